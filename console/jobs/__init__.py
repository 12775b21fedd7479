"""Background jobs: long work (exports, later imports) run away from the request.

- ``kinds``: the declared kinds of job (what each runs, who may start it);
- ``runner``: runs one claimed job through a ``JobContext`` (progress, cancellation,
  the result file) and records how it ended;
- ``runtime``: how a queued job gets run in a serving app: a thread of the web process
  (the embedded default) or RQ jobs on ``REDIS_URL``;
- ``worker``: ``flask --app console jobs worker``, the process that runs jobs from RQ
  (or polls the table without Redis);
- ``exports``: the list exports (CSV, XLSX, JSON Lines), inline or as jobs.

The rules (who sees, cancels, downloads; claiming; stale jobs; pruning) are in
``console.services.jobs``; the job row is the source of truth whatever runs it.
"""
