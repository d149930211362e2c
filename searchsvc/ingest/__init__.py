"""The shared ingest: readers, sources, places, stories and builds — the same for every engine.

``readers`` parse article files, ``sources`` walk folders and account for every file,
``prepare`` enriches an article (places, analysis) for an engine's writer, ``stories``
clusters, ``build`` orchestrates full builds and updates, ``ingested`` manages articles posted
over HTTP, ``records`` keeps what each build did, ``locks`` keeps builds from colliding.
"""
