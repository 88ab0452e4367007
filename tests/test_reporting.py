"""Reporting: the confusion matrix, the risk list and the PDF report of the deployed model."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import zlib

import numpy as np
import pandas as pd
import pytest

import reporting
from diagnostics import run_diagnostics
from ingestion import run_ingestion
from pipeline.core.deployed import current_deployment, load_deployed_model
from pipeline.core.names import UNLABELLED_DATA
from pipeline.core.schema import FEATURES
from pipeline.report.figures import new_figure, save_pdf_page
from reporting import (
    PAGE_TITLES,
    build_report,
    build_risk_list,
    evaluate_deployed,
    plot_confusion_matrix,
    read_risk_list,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("no_network")


def pdf_pages(data: bytes) -> int:
    """The number of page objects in a PDF file's bytes."""
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", data))


def page_text(report, title: str) -> str:
    """All the text drawn on one page of a report."""
    return "\n".join(report.pages[title])


def test_confusion_matrix_is_a_png_of_the_deployed_models_counts(deployed):
    path = plot_confusion_matrix(deployed)
    assert path == deployed.model_folder / "confusionmatrix.png"
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 400 and height > 400
    evaluation = evaluate_deployed(deployed)
    scores = current_deployment(deployed.deployment_folder).manifest["scores"]
    assert [evaluation[k] for k in ("tn", "fp", "fn", "tp")] == \
        [scores[k] for k in ("tn", "fp", "fn", "tp")]
    assert evaluation["f1"] == pytest.approx(scores["f1"])


def test_risk_list_ranks_every_client_once_highest_risk_first(deployed):
    frame = build_risk_list(deployed)
    final = pd.read_csv(deployed.output_folder / "finaldata.csv", keep_default_na=False)
    assert list(frame.columns) == ["corporation", "probability", "rank", *FEATURES,
                                   "top_factor", "top_contribution",
                                   *(f"contribution_{f}" for f in FEATURES)]
    assert frame["rank"].tolist() == list(range(1, len(frame) + 1))
    assert frame["probability"].is_monotonic_decreasing
    assert frame["probability"].between(0, 1).all()
    latest = final.drop_duplicates("corporation", keep="last")
    current = set(latest.loc[latest["exited"] == 0, "corporation"])
    assert len(frame) == len(current) > 0
    assert set(frame["corporation"]) == current
    written = read_risk_list(deployed.model_folder)
    pd.testing.assert_frame_equal(written, frame.reset_index(drop=True), check_exact=False)
    pd.testing.assert_frame_equal(read_risk_list(deployed.model_folder, top=5), written.head(5))


def test_risk_list_scores_the_last_record_of_a_client(deployed):
    model, _ = load_deployed_model(deployed.deployment_folder)
    test = pd.read_csv(deployed.test_file)
    probability = model.predict_proba(test[list(FEATURES)])[:, 1]
    risky, safe = test.iloc[int(np.argmax(probability))], test.iloc[int(np.argmin(probability))]

    def row(name, record, exited=0):
        return f"{name}," + ",".join(str(record[c]) for c in FEATURES) + f",{exited}\n"

    # "dupe" was risky in its first record and safe in its last; "null" is a name, not a gap.
    # The whole story is this finaldata.csv: no unlabelled batch beside it.
    (deployed.output_folder / UNLABELLED_DATA).unlink(missing_ok=True)
    (deployed.output_folder / "finaldata.csv").write_text(
        "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
        + row("dupe", risky) + row("null", test.iloc[0]) + row("midd", test.iloc[1])
        + row("dupe", safe), encoding="utf-8")
    frame = build_risk_list(deployed).set_index("corporation")
    assert sorted(frame.index) == ["dupe", "midd", "null"]
    assert frame.loc["dupe", "probability"] == pytest.approx(probability.min())
    assert frame.loc["dupe", "probability"] < probability.max() - 0.5
    assert frame.loc["dupe", "rank"] == 3


def test_clients_who_have_left_are_not_on_the_risk_list(deployed):
    features = "5,900,40"
    (deployed.output_folder / UNLABELLED_DATA).unlink(missing_ok=True)  # this story only
    (deployed.output_folder / "finaldata.csv").write_text(
        "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
        f"gone,{features},0\ngone,{features},1\n"  # left since its first record
        f"back,{features},1\nback,{features},0\n"  # a returning client counts
        f"stay,{features},0\n", encoding="utf-8")
    frame = build_risk_list(deployed)
    assert sorted(frame["corporation"]) == ["back", "stay"]
    assert frame["rank"].tolist() == [1, 2]


def test_risk_list_needs_a_deployed_model(settings):
    with pytest.raises(FileNotFoundError):
        read_risk_list(settings.model_folder)
    run_ingestion(settings)
    with pytest.raises(reporting.ModelIntegrityError, match="no model deployed"):
        build_risk_list(settings)


def test_report_has_every_section_of_the_deployed_model(deployed):
    (deployed.root / "requirements.txt").write_text("pandas==3.1.1\n", encoding="utf-8")
    run_diagnostics(deployed, measure_time=False,
                    fetch=lambda url, timeout: {"info": {"version": "99.0"}})
    report = build_report(deployed)

    data = report.path.read_bytes()
    assert report.path == deployed.model_folder / "report.pdf"
    assert data.startswith(b"%PDF")
    assert pdf_pages(data) == len(PAGE_TITLES) == 11
    assert b"/Title (Client attrition risk report)" in data
    assert list(report.pages) == list(PAGE_TITLES)
    manifest = current_deployment(deployed.deployment_folder).manifest
    assert "Version 1, deployed" in page_text(report, "Deployed model")
    assert "dataset3.csv" in page_text(report, "Deployed model")
    assert f"F1 {manifest['f1']:.3f}" in page_text(report, "Model performance on the test data")
    assert "deploy | v1" in page_text(report, "Score history")
    selection = manifest["training"]["selection"]
    chosen = page_text(report, "Model selection")
    assert f"» {selection['chosen']} | " in chosen
    for row in selection["table"]:
        assert f"{row['model']} | {row['log_loss']:.4f} ± {row['log_loss_sd']:.4f}" in chosen
    assert f"at least {selection['threshold']:.3f}" in chosen
    assert f"Why {selection['chosen']}: {selection['rule']}." in chosen
    calibration = page_text(report, "Calibration on the test data")
    assert f"Brier score {manifest['scores']['brier']:.4f}" in calibration
    assert calibration.count("\n") >= 10  # the table of the ten bins
    assert "No drift decision recorded yet" in page_text(report, "Drift decisions")
    data_page = page_text(report, "Data: summary statistics and missing values")
    assert "10,000 records of 10,000 distinct clients" in data_page
    assert "corporation | 0.00%" in data_page
    operations = page_text(report, "Operations: timings and dependencies")
    assert "Not measured yet" in operations
    assert "pandas | 3.1.1 | " in operations and "| 99.0 | outdated" in operations
    assert "dataset4.csv | ingested | 5,000 | 5,000 | 0 | 500" in page_text(report,
                                                                           "Last ingestion")
    top = build_risk_list(deployed).head(20)
    clients = page_text(report, "Top 20 clients by attrition risk")
    for rank, name in zip(top["rank"], top["corporation"], strict=True):
        assert f"\n{rank} | {name} | " in clients


def _text_streams(data: bytes) -> list[bytes]:
    """The content streams of a PDF (matplotlib deflates them) that show text."""
    streams = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            stream = zlib.decompress(match.group(1))
        except zlib.error:
            continue
        if re.search(rb"T[jJ]\b", stream):
            streams.append(stream)
    return streams


def test_a_page_in_windows_1252_uses_the_standard_fonts_and_any_other_keeps_its_letters():
    """The standard fonts hold Windows-1252 only: a client named in another script (here in a
    table cell, which matplotlib keeps apart from the figure's other texts) would print as
    '?'. Such a page keeps the embedded font, with the glyphs of its letters."""
    latin = new_figure((4, 3))
    latin.text(0.1, 0.5, "Acme café € -1")
    polish = new_figure((4, 3))
    polish.add_subplot().table(cellText=[["Łódź Sp. z o.o."]])
    out = io.BytesIO()
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(out) as pdf:
        assert save_pdf_page(pdf, latin) is True
        assert save_pdf_page(pdf, polish) is False
    data = out.getvalue()
    assert pdf_pages(data) == 2
    assert b"/BaseFont /Helvetica" in data and b"DejaVuSans" in data
    shown = b"".join(_text_streams(data))
    assert b"(Acme caf\xe9 \x80 -1) Tj" in shown  # as text, in the font's own encoding
    assert b"?" not in shown
    assert {b"Lslash", b"oacute", b"zacute"} <= set(re.findall(rb"/([A-Za-z]+)\b", data))


def test_the_report_of_plain_names_is_written_in_the_standard_fonts_without_a_warning(
        deployed, caplog):
    with caplog.at_level(logging.WARNING):
        report = build_report(deployed)
    data = report.path.read_bytes()
    assert pdf_pages(data) == len(PAGE_TITLES)
    assert b"/BaseFont /Helvetica" in data
    assert b"/Type3" not in data and b"DejaVu" not in data  # no font embedded, glyph by glyph
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert any(b"(Top 20 clients by attrition risk) Tj" in s for s in _text_streams(data))


def test_report_lists_what_ingestion_set_aside(settings):
    (settings.input_folder / "extra.csv").write_text(
        "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
        "abcd,1,2,3,0\nbadx,abc,2,3,1\nbady,,5,6,1\n", encoding="utf-8")
    (settings.input_folder / "semicolon.csv").write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    run_ingestion(settings)
    text = page_text(build_report(settings), "Last ingestion")
    assert "1 whole files and 2 rows set aside" in text
    assert "extra.csv | lastmonth_activity is not a number | 1" in text
    assert "extra.csv | lastmonth_activity is missing | 1" in text
    assert "semicolon.csv | rejected" in text


def test_names_with_dollar_signs_are_printed_as_they_are_not_as_mathematics(settings):
    """matplotlib reads text between two $ as mathematics: a file or client named so printed
    as a formula, or failed the whole report (an unknown command is a ValueError)."""
    name = "q1 $\\foo{$ off.csv"
    (settings.input_folder / name).write_text(
        "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
        "abcd,1,2,3,0\nbadx,abc,2,3,1\n", encoding="utf-8")
    run_ingestion(settings)
    report = build_report(settings)
    assert f"{name} | lastmonth_activity is not a number | 1" in page_text(report, "Last ingestion")
    shown = b"".join(_text_streams(report.path.read_bytes()))
    assert b"(q1 $\\\\foo{$ off.csv)" in shown  # as text: the PDF escapes the backslash


def test_a_test_file_named_with_dollar_signs_is_printed_as_it_is(deployed):
    """Its name is in the confusion matrix's title, in the PNG and on the report's page."""
    name = "q1 $\\foo{$ off.csv"
    deployed.test_file.rename(deployed.test_file.with_name(name))
    settings = dataclasses.replace(deployed, test_file=deployed.test_file.with_name(name))
    assert plot_confusion_matrix(settings).read_bytes().startswith(PNG_SIGNATURE)
    shown = b"".join(_text_streams(build_report(settings).path.read_bytes()))
    assert b"rows of q1 $\\\\foo{$ off.csv) Tj" in shown


def _saved(*figures) -> tuple[list[bool], bytes]:
    from matplotlib.backends.backend_pdf import PdfPages

    out = io.BytesIO()
    with PdfPages(out) as pdf:
        standard = [save_pdf_page(pdf, fig) for fig in figures]
    return standard, out.getvalue()


def test_tick_labels_and_mathematics_are_seen_before_the_fonts_are_chosen(caplog):
    """Tick labels are written only when a page is drawn: a category axis of names in another
    script keeps the embedded font. Negative ticks get a hyphen, which Helvetica holds (the
    minus sign it lacks would print '?'). Mathematics is drawn in matplotlib's own fonts: a
    page with it keeps the embedded ones, without a warning about their weights."""
    names = new_figure((4, 3))
    names.add_subplot().bar(["Łódź", "Acme"], [1, 2])
    negative = new_figure((4, 3))
    negative.add_subplot().plot([-3, 3], [-2, 2])
    maths = new_figure((4, 3))
    maths.text(0.1, 0.5, "costs $x^2$")
    with caplog.at_level(logging.WARNING):
        standard, data = _saved(names, negative, maths)
    assert standard == [False, True, False]
    assert not caplog.records, caplog.text
    shown = b"".join(_text_streams(data))
    assert b"?" not in shown and b"(-2) Tj" in shown


def test_report_without_model_data_or_diagnostics_says_so(settings):
    report = build_report(settings)
    assert pdf_pages(report.path.read_bytes()) == len(PAGE_TITLES)
    assert "No model is deployed" in page_text(report, "Deployed model")
    assert "No ingested data yet" in page_text(report,
                                               "Data: summary statistics and missing values")
    operations = page_text(report, "Operations: timings and dependencies")
    assert "Not measured yet" in operations and "Not checked yet" in operations
    assert "No ingestion recorded" in page_text(report, "Last ingestion")
    assert "No cross-validation recorded" in page_text(report, "Model selection")
    assert "Not available" in page_text(report, "Calibration on the test data")
    assert not settings.history_db.exists()


def test_main_writes_the_three_outputs(deployed, capsys):
    assert reporting.main(["--config", str(deployed.config_path)]) == 0
    out = capsys.readouterr().out
    for name in ("confusionmatrix.png", "riskscores.csv", "report.pdf"):
        assert (deployed.model_folder / name).is_file()
        assert str(deployed.model_folder / name) in out


def test_main_still_writes_the_report_without_a_model(settings, capsys):
    assert reporting.main(["--config", str(settings.config_path)]) == 1
    assert "confusion matrix not written: no model deployed" in capsys.readouterr().err
    assert (settings.model_folder / "report.pdf").is_file()


def test_the_drift_page_shows_every_decision_with_its_figures(redeployed):
    """After the practice model drifted on the new data: the loss test's figures and outcome."""
    from cycle.steps import _record_decision
    from pipeline.core.history import History
    from pipeline.monitor.verdict import Evidence, Policy, decide

    history = History(redeployed.history_db)
    reference = {"mean": 0.50, "sd": 0.5, "rows": 10_000}
    for mean in (0.51, 0.80):
        evidence = Evidence(rows=2_000, exits=400, new_score=0.5, deployed_score=0.6,
                            new_loss={"mean": mean, "sd": 0.5, "rows": 2_000},
                            reference_loss=reference)
        with history.run("fullprocess", redeployed.name) as run:
            _record_decision(history, run.id, decide(evidence, Policy()), evidence)
    text = page_text(build_report(redeployed), "Drift decisions")
    assert "Test in the config: loss" in text
    assert "log-loss 0.8000 vs 0.5000 (+60.0%)" in text and "| loss drift" in text
    assert "log-loss 0.5100 vs 0.5000 (+2.0%)" in text and "| no drift" in text
