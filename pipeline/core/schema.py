"""The data schema: the five columns of every client record."""

ID = "corporation"
FEATURES = ("lastmonth_activity", "lastyear_activity", "number_of_employees")
TARGET = "exited"
COLUMNS = (ID, *FEATURES, TARGET)
