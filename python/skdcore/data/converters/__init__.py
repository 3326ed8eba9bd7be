"""Converters from public data sets' own file formats to the arrays input of ``skd prepare --source arrays``
(a ``.npz`` + a ``layout.yaml``). Run one as ``python -m skdcore.data.converters.<name> SRC OUT``."""
