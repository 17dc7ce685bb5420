"""What the UI shows follows Dagster's own conventions: row counts, tables, previews, descriptions on every
check, owners, code versions from the declarations, groups by domain, the outside sources in the lineage, and
one backfill policy per job."""

import dataclasses

import dagster as dg
import pyarrow as pa

from avax_assets.catalogue import DAILY_JOBS, DATASETS, SCOPES, SOURCES, Catalogue
from avax_assets.chain.datasets import BLOCKS, TRANSACTIONS
from avax_assets.core.schema import U64, Column
from avax_assets.core.spool import PartitionSpool
from avax_assets.definitions import defs as load_definitions
from avax_assets.orchestration.factory import code_version, load_key, preview_metadata

DEFS = load_definitions()
ASSETS = [a for a in DEFS.assets if isinstance(a, dg.AssetsDefinition)]


def test_every_check_says_what_it_checks():
    specs = [spec for asset in ASSETS for spec in asset.check_specs]
    assert len(specs) > 40
    assert [spec.key for spec in specs if not (spec.description or "").strip()] == []


def test_the_node_s_datasets_warn_of_fields_no_declaration_knows_from_their_joint_step():
    step = next(a for a in ASSETS if a.node_def.name == "blocks_transactions_logs")
    assert {(spec.asset_key.path[-1], spec.name) for spec in step.check_specs} == \
        {(name, "unknown_source_fields") for name in ("blocks", "transactions", "logs")}


def test_a_datasets_stages_share_its_domain_group_and_every_asset_has_owners():
    groups = {key: group for a in ASSETS for key, group in a.group_names_by_key.items()}
    for specs in SCOPES.values():
        for spec in specs:
            assert groups[dg.AssetKey(spec.dataset.name)] == groups[load_key(spec.dataset)] == spec.group
    assert "clickhouse" not in set(groups.values())
    assert all(spec.owners for a in ASSETS for spec in a.specs)


def test_extracts_hang_below_the_outside_system_they_read():
    external = {spec.key for spec in DEFS.assets if isinstance(spec, dg.AssetSpec)}
    assert external == {dg.AssetKey(source.name) for source in SOURCES}
    assert {"c_chain_rpc", "avacloud_data_api", "avacloud_metrics_api", "the_graph", "p_chain"} == \
        {s.name for s in SOURCES}
    blocks = next(a for a in ASSETS if dg.AssetKey(BLOCKS.name) in a.keys)
    assert dg.AssetKey("c_chain_rpc") in {dep.asset_key for dep in blocks.specs_by_key[dg.AssetKey(BLOCKS.name)].deps}


def test_code_version_comes_from_the_declaration_and_changes_with_its_columns():
    assert next(a for a in ASSETS if dg.AssetKey(BLOCKS.name) in a.keys).code_versions_by_key[
        dg.AssetKey(BLOCKS.name)] == code_version(BLOCKS)
    widened = dataclasses.replace(BLOCKS, columns=(*BLOCKS.columns, Column("extra", U64)))
    assert code_version(widened) != code_version(BLOCKS) and code_version(BLOCKS) != code_version(TRANSACTIONS)


def test_each_daily_job_has_one_backfill_policy_the_readme_states():
    catalogue = Catalogue()
    for job in DAILY_JOBS:
        policies = {a.backfill_policy for a in catalogue.scope(job.scope)}
        assert len(policies) == 1, job.name
        assert policies.pop().max_partitions_per_run == (31 if job.name == "metrics_daily" else 1), job.name


def test_the_preview_is_a_table_and_keeps_big_integers_exact(tmp_path):
    big = 2**60 + 1
    rows = [{c.name: None for c in BLOCKS.columns} | {"block_number": big, "block_hash": "0xab", "parent_hash": "0xcd",
                                                       "gas_limit": 1, "gas_used": 1, "transaction_count": 0,
                                                       "block_timestamp": 1717200000}]
    with PartitionSpool(BLOCKS, "2024-06-01", str(tmp_path)) as spool:
        spool.write(pa.RecordBatch.from_pylist(rows, schema=BLOCKS.arrow_schema))
    preview = preview_metadata(spool.result)
    assert isinstance(preview, dg.TableMetadataValue)
    record = preview.records[0].data
    assert record["block_number"] == str(big) and record["block_timestamp"].startswith("2024-06-01T00:00:00")
    assert [c.name for c in preview.schema.columns] == BLOCKS.arrow_schema.names


def test_every_dataset_has_an_extract_and_a_load():
    keys = {key for a in ASSETS for key in a.keys}
    for dataset in DATASETS.values():
        assert dg.AssetKey(dataset.name) in keys and load_key(dataset) in keys
