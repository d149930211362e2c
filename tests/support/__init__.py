"""Helpers shared by the tests (imported by test files and by ``conftest``; no fixtures here).

* ``paths``: where the seeds and the shared corpora are;
* ``index``: building small indexes and searching them through the engine port, on any engine
  (``ENGINES``);
* ``cli``: running ``searchsvc`` as a subprocess or in-process, and reading its summary line;
* ``web``: the Flask test client over an index;
* ``e2e``: a real ``searchsvc serve`` process, HTTP with the standard library, generated
  corpora.
"""
