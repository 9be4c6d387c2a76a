"""Maps each catalogue protocol to its connector class."""

from __future__ import annotations

from ingest.cdp import CdpConnector
from ingest.connector import Connector
from ingest.covenant import CovenantConnector
from ingest.eurostat import EurostatConnector
from ingest.fingrid import FingridConnector
from ingest.hsy import HsyConnector
from ingest.oecd import OecdConnector
from ingest.pxweb import PxWebConnector
from ingest.syke import SykeConnector, UrlFormMemory
from ingest.syke_population import SykePopulationConnector

CONNECTORS: dict[str, type[Connector]] = {
    cls.protocol: cls
    for cls in (
        HsyConnector,
        SykeConnector,
        SykePopulationConnector,
        PxWebConnector,
        EurostatConnector,
        FingridConnector,
        OecdConnector,
        CovenantConnector,
        CdpConnector,
    )
}


def connector_for(protocol: str, *, read_only: bool = False) -> Connector:
    """A connector instance for a catalogue protocol; read_only: one that keeps no state on disk (Syke's
    memory of the URL form that answered stays in memory), for `kestava probe`."""
    if protocol not in CONNECTORS:
        raise KeyError(f"no connector for protocol {protocol!r}; known: {sorted(CONNECTORS)}")
    if read_only and protocol == SykeConnector.protocol:
        return SykeConnector(memory=UrlFormMemory(None))
    return CONNECTORS[protocol]()
