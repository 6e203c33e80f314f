"""The hospital node: an HTTP service per institution over its own workspace, that releases a
record's key only after an on-chain access entry, and its Python client."""

from careledger.node.client import NodeClient
from careledger.node.messages import KeyRequest, PatientAction, PatientRequest, node_domain
from careledger.node.service import NodeConfig, NodeService, pointer_from_json, pointer_json

__all__ = [
    "KeyRequest",
    "NodeClient",
    "NodeConfig",
    "NodeService",
    "PatientAction",
    "PatientRequest",
    "node_domain",
    "pointer_from_json",
    "pointer_json",
]
