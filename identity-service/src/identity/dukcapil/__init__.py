"""The mock Dukcapil population registry: a synthetic population behind ``PopulationRegistry``.

Modules: ``registry`` (the interface), ``mock`` (``MockDukcapil``), ``population``
(``seed_population``), ``nik`` (NIK parsing), ``faces`` (photo comparison), ``dataset`` (the
CSV of extra residents), ``problems`` (problem+json mappings), ``tables`` (its tables).
"""
