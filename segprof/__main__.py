from segprof.cli.main import run

run()
