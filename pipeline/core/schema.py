"""The data schema: the five columns of every client record."""

ID = "corporation"
FEATURES = ("lastmonth_activity", "lastyear_activity", "number_of_employees")
TARGET = "exited"
COLUMNS = (ID, *FEATURES, TARGET)

# An unlabelled batch (outcomes not known yet) holds the other four columns; its rows are kept
# in their own output with the file they came from and the number of finaldata.csv rows that
# came before that file, so that a client's latest record can be found across both.
UNLABELLED = (ID, *FEATURES)
BATCH = "batch"
AFTER_ROWS = "finaldata_rows"
UNLABELLED_OUTPUT = (*UNLABELLED, BATCH, AFTER_ROWS)
