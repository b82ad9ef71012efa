"""taskspread.ecs benchmarks: ``python -m benchmarks.run`` (or ``make bench``). Benchmarks measure;
tests assert. Nothing here is collected by pytest."""
