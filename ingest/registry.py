"""Maps each catalogue protocol to its connector class."""

from __future__ import annotations

from ingest.connector import Connector
from ingest.eurostat import EurostatConnector
from ingest.fingrid import FingridConnector
from ingest.hsy import HsyConnector
from ingest.pxweb import PxWebConnector
from ingest.syke import SykeConnector

CONNECTORS: dict[str, type[Connector]] = {
    cls.protocol: cls
    for cls in (HsyConnector, SykeConnector, PxWebConnector, EurostatConnector, FingridConnector)
}


def connector_for(protocol: str) -> Connector:
    """A connector instance for a catalogue protocol."""
    try:
        return CONNECTORS[protocol]()
    except KeyError:
        raise KeyError(f"no connector for protocol {protocol!r}; known: {sorted(CONNECTORS)}") from None
