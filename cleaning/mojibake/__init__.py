"""CJK mojibake: UTF-8 read as a CJK codec, and CJK legacy bytes read as Latin-1 (what ftfy leaves).

* ``detect``: finds the spans, decides by how much more natural the repair reads, shares evidence
  across a text (``find_utf8_misreads``, ``find_legacy_misreads``);
* ``model``: the character model that measures naturalness (``chartable.json``);
* ``bytemaps``, ``utf8``, ``complete``: wrong decoders undone, damaged UTF-8 decoded, lost bytes
  inferred from context or marked U+FFFD;
* ``simulate``: the corruption processes, for tests and the benchmark;
* ``build``, ``cases``: offline tools that rebuild the character table and the test cases.

``cleaning.repair`` is the entry point the pipeline uses.
"""
