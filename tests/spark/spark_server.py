"""A Spark Connect server on loopback, from the pyspark package (Spark in local mode on Java 17).

Spark Connect is the protocol Databricks Connect speaks to a Databricks cluster: segprof reaches this
server exactly as it reaches a cluster, through `SparkSession.builder.remote(...)`. One server serves
the whole test run (its start-up costs several seconds of JVM warm-up).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(work: Path, cores: int = 2) -> Iterator[str]:
    """Run the Spark Connect server; yields its `sc://` URL."""
    import pyspark

    home = Path(pyspark.__file__).parent
    port = _free_port()
    log = work / "server.log"
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    conf = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.sql.warehouse.dir": str(work / "warehouse"),
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",  # small tests: a few tasks per stage, not 200
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.memory": os.environ.get("SEGPROF_SPARK_MEMORY", "1g"),
        # Spark Connect gathers a query's results on the driver before sending them: a stream of
        # millions of rows can need more than the 1g default
        "spark.driver.maxResultSize": os.environ.get("SEGPROF_SPARK_MAX_RESULT_SIZE", "1g"),
    }
    command = [
        str(home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        f"local[{cores}]",
        "--driver-java-options",
        f"-Dderby.system.home={work / 'derby'}",
    ]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    with log.open("w") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work)
    try:
        deadline = time.monotonic() + 180
        while "Spark Connect server started" not in log.read_text(errors="replace"):
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Spark Connect server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield f"sc://127.0.0.1:{port}"
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        shutil.rmtree(work / "warehouse", ignore_errors=True)
