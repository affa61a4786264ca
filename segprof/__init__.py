"""segprof: Segment Reverse ETL into Segment Profiles, managed as code.

Must never import a layer: importing the package stays free.
"""

__version__ = "0.1.0"
