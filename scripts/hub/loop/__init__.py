"""`hub loop`: the whole model lifecycle on one machine, no cloud and no network.

A real MLflow tracking server (artifacts on disk or in a moto S3 server), the training Job, the serving
API and the monitor run as managed subprocesses on 127.0.0.1; the loop drives traffic, injects drift and
a worse model, waits for each decision the workloads are expected to take, and writes the merged event
log and a self-contained HTML report.

Modules: `processes` (child processes in their own process groups, step timeouts), `timeline`
(collecting, merging and checking events), `traffic` (the client and the warehouse table),
`report` (the HTML report), `scenario` (the steps) and `command` (the typer command).
"""
