"""Developer tools run by make targets (not by the system itself): a headless browser, and the
README's screenshots. An entry point: may import anything of the project."""
