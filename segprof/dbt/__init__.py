"""dbt's artifacts as segprof reads them: `manifest.json` and `catalog.json`, plain JSON.

Owns what segprof knows of a dbt project (its models, their relations, columns, tests and
files) and the comparison with a production manifest. Must never import dbt, run dbt, or
connect to a warehouse: everything here is read from the files dbt already wrote.
"""
