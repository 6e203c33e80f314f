"""``ResearchRegistry``: anchored research datasets and the patients' non-transferable points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from web3.types import TxReceipt

from careledger.contracts.base import ContractTx, ContractWrapper


@dataclass(frozen=True)
class Dataset:
    """An anchored dataset (its manifest hash is in its ``DatasetAnchored`` event)."""

    dataset_id: int
    study_id: int
    contributors: int
    anchored_at: int
    dataset_hash: bytes


class ResearchRegistry(ContractWrapper):
    """Datasets of studies and the points their contributors earned."""

    NAME = "ResearchRegistry"

    def anchor_dataset(self, study_id: int, dataset_hash: bytes, manifest_hash: bytes,
                       contributors: Sequence[str]) -> ContractTx:
        """Anchor a dataset of ``study_id`` (its institute only) and credit each contributor
        (sorted here: the contract wants them ascending and each once)."""
        ordered = sorted({to_checksum_address(c) for c in contributors}, key=lambda a: int(a, 16))
        return self._tx("anchorDataset", study_id, dataset_hash, manifest_hash, ordered,
                        description=f"anchor dataset of study {study_id} ({len(ordered)} patients)")

    def dataset_id_from(self, receipt: TxReceipt) -> int:
        """The id of the dataset an ``anchorDataset`` transaction created."""
        return int(self.events_in("DatasetAnchored", receipt)[0]["args"]["datasetId"])

    def dataset(self, dataset_id: int) -> Dataset:
        """An anchored dataset (``DatasetNotFound`` for an unknown id)."""
        study, contributors, at, digest = self._view("dataset", dataset_id)
        return Dataset(dataset_id, int(study), int(contributors), int(at), bytes(digest))

    def dataset_count(self) -> int:
        """How many datasets were anchored."""
        return int(self._view("datasetCount"))

    def points_of(self, patient: str) -> int:
        """A patient's points."""
        return int(self._view("pointsOf", patient))
