"""Framework-free analysis and reporting: pandas in, DataFrames, SVG, HTML and PDF out."""
