"""The project compiled once: the desired workspace resources, each model's output columns, and
the sources as warehouse connections. Built from the configuration (`segprof.config`); read by plan,
apply, sync and the operations. Must never talk to a workspace or the Tracking API."""
