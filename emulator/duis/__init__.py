"""DUIS, the DCC User Interface Specification: the XML front door of the DCC, sans-IO.

* :mod:`emulator.duis.tables`: facts of DUIS (Service Request Variants, response codes).
* :mod:`emulator.duis.keys`: XML-signing certificates and keys by (issuer, serial) and EUI.
* :mod:`emulator.duis.xmlsig`: sign and verify DUIS XML as DCC Boxed does (needs lxml,
  the ``duis`` extra).

Nothing here opens a socket; the modules are imported on demand.
"""
