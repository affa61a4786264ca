"""segprof: Segment Reverse ETL into Segment Profiles, managed as code."""

__version__ = "0.1.0"
