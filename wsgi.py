import gc

from api import create_app_or_exit

app = create_app_or_exit()
# Everything built at start-up (content library, mappers, compiled statements) lives as long
# as the process: frozen out of the collector, a full collection no longer walks it, which
# took the caseload page's p95 from ~200 to ~85 ms (bench/console_pages.py).
gc.collect()
gc.freeze()
