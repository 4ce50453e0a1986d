"""Benchmark suite: flask_oauth1_async against raw httpx and Authlib, side by side.

Run it with ``nox -s bench`` (``nox -s bench -- --quick`` for a short run).
Everything is measured in one process run, interleaved, against servers on
127.0.0.1 only, and the results are written to ``benchmarks/results/latest.md``
(and ``latest.json``). See ``python -m benchmarks --help``.

Modules:

``upstream``    the fast local upstream (asyncio, hand-written HTTP/1.1, own process)
``servers``     TLS material and a quiet threaded werkzeug server (client apps, provider)
``flavours``    the six client flavours and the apps that host them
``stats``       timing samples, percentiles, the interleaving scheduler
``scenarios``   what is measured: shapes (a)/(b), fan-out, throughput, dance, signing
``memory``      RSS over long runs, in a fresh process
``profiling``   cProfile of our sync and async paths
``loadgen``     the 8-thread load generator process for the throughput run
``report``      Markdown and reStructuredText rendering, targets
``runner``      command line and orchestration
"""
