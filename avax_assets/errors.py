"""Errors that name what went wrong where: dataset, partition, field."""


class BadField(ValueError):
    """A source value that does not fit its declared column."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"field '{field}': {detail}")
        self.field = field
        self.detail = detail


class SourceDataError(ValueError):
    """Malformed source data for one dataset partition; nothing is stored for it."""

    def __init__(self, dataset: str, partition: str, field: str, detail: str, where: str = "") -> None:
        location = f" at {where}" if where else ""
        super().__init__(f"dataset '{dataset}' partition {partition}: field '{field}' {detail}{location}")
        self.dataset = dataset
        self.partition = partition
        self.field = field


class PartitionNotReady(RuntimeError):
    """The source has not (fully) produced the partition yet."""
