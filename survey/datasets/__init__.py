"""Reading data back out: the dataset bridge to pandas and disclosure-controlled exports."""
