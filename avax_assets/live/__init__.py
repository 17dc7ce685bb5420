"""The live path: new accepted blocks in ClickHouse within seconds, beside the daily batch.

    follower.py   tracks the accepted head, extracts each new step of blocks with the chain family's
                  extractors and publishes it to the datasets' own topics, in one Kafka transaction with
                  its manifest (stream.py)
    consumer.py   a consumer group (read_committed) loading those topics into the same ClickHouse tables
                  in micro-batches, idempotently, with a checkpoint per dataset
    assets.py     the sensor that shows the live path's progress in Dagster (observations of the loads)
"""
