"""The engine-neutral core: request parameters, query reading, the search pipeline, results.

Nothing here imports an engine: the core speaks to one through ``searchsvc.engine``.
"""
