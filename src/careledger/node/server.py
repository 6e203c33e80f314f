"""Running a node: load its parts, serve the app with uvicorn until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import uvicorn

from careledger.chain import Sender
from careledger.contracts import CareLedger
from careledger.crypto import EncryptionKeyPair
from careledger.node.app import create_app
from careledger.node.service import NodeConfig, NodeService
from careledger.node.state import NodeState
from careledger.store import Workspace


def build_service(ledger: CareLedger, sender: Sender, workspace_dir: Path,
                  keypair: EncryptionKeyPair, config: NodeConfig) -> NodeService:
    """A node over ``workspace_dir`` (blobs, wrapped keys, record index, journal, node.db)."""
    workspace = Workspace.local(workspace_dir)
    if sender.journal is None:
        sender.journal = workspace.journal
    return NodeService(ledger, sender, workspace, keypair, NodeState(workspace_dir / "node.db"),
                       config)


def serve(service: NodeService, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM (whatever the process inherited), then close the state."""
    # NOTE: started as a background job, SIGINT arrives ignored; uvicorn installs its own
    # handlers, and this makes sure the default one is back should it not.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = uvicorn.Config(create_app(service), host=host, port=port, log_level="info",
                            access_log=True, timeout_graceful_shutdown=5)
    try:
        uvicorn.Server(config).run()
    finally:
        service.state.close()
