"""The embedded engine: Whoosh segments, read into numpy for matching, ranking and counting.

``schema`` declares the fields; ``segments`` writes them fast; ``generations`` keeps complete
index directories side by side and swaps the served one atomically; ``columns`` holds the
per-document arrays (dates, facets, stories, lengths) that filters, facets and collapse run on;
``postings`` reads posting lists block-wise into arrays; ``evaluate`` turns the neutral query
tree into document masks and BM25 scores; ``engine`` implements the port.
"""
