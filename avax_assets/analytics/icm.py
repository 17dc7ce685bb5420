"""Cross-chain ICM (Teleporter) messages matched across chains: every message one loaded chain sent, found by
its id among the messages another loaded chain received. A message id is keccak-256 of (messenger, source
blockchain id, destination blockchain id, nonce), so it is the same on both chains and names one message.

Each row's chain is its `chain_id` column; a blockchain id (bytes32) is what the messenger knows a chain by. The
view learns which blockchain id each loaded chain has from the data itself: the messenger's
BlockchainIDInitialized, the messages a chain received (they were for its own id), and the sends matched to a
delivery (their source id). So an unmatched message still names the other chain's EVM chain id whenever that
chain is loaded and has shown its blockchain id."""

from avax_assets.core.schema import View
from avax_assets.events.datasets import (TELEPORTER_BLOCKCHAIN_ID, TELEPORTER_EXECUTED, TELEPORTER_EXECUTION_FAILED,
                                         TELEPORTER_FEE_ADDED, TELEPORTER_RECEIPT, TELEPORTER_RECEIVE, TELEPORTER_SEND)

POSITION = "message_id, chain_id, block_number, block_timestamp, log_index, transaction_hash"
NOTHING = "toUInt256(0), '', '', ''"  # nonce, origin sender, destination address, destination blockchain id

# one row per event about a message, on the chain that emitted it: sent and fees added (source chain), received,
# executed and failed (destination chain), receipt back (source chain)
SIDES = f"""
        SELECT 'sent' AS side, {POSITION}, message_message_nonce AS nonce,
               message_origin_sender_address AS origin_sender_address,
               message_destination_address AS destination_address,
               message_destination_blockchain_id AS destination_blockchain_id, '' AS source_blockchain_id,
               message_message = '0x' AS no_payload, fee_info_fee_token_address AS fee_token_address,
               fee_info_amount AS fee_amount, '' AS deliverer, '' AS reward_address
        FROM {{db}}.{TELEPORTER_SEND.dataset.table}
        UNION ALL
        SELECT 'received', {POSITION}, message_message_nonce, message_origin_sender_address,
               message_destination_address, message_destination_blockchain_id, source_blockchain_id,
               message_message = '0x', '', toUInt256(0), deliverer, reward_redeemer
        FROM {{db}}.{TELEPORTER_RECEIVE.dataset.table}
        UNION ALL
        SELECT 'executed', {POSITION}, {NOTHING}, source_blockchain_id, 0, '', toUInt256(0), '', ''
        FROM {{db}}.{TELEPORTER_EXECUTED.dataset.table}
        UNION ALL
        SELECT 'failed', {POSITION}, {NOTHING}, source_blockchain_id, 0, '', toUInt256(0), '', ''
        FROM {{db}}.{TELEPORTER_EXECUTION_FAILED.dataset.table}
        UNION ALL
        SELECT 'receipt', {POSITION}, {NOTHING}, '', 0, fee_info_fee_token_address, fee_info_amount, '',
               relayer_reward_address
        FROM {{db}}.{TELEPORTER_RECEIPT.dataset.table}
        UNION ALL
        SELECT 'fee added', {POSITION}, {NOTHING}, '', 0, updated_fee_info_fee_token_address,
               updated_fee_info_amount, '', ''
        FROM {{db}}.{TELEPORTER_FEE_ADDED.dataset.table}"""

# per message id, what each chain saw of it
MESSAGES = """
        SELECT message_id,
               countIf(side = 'sent') > 0 AS was_sent, countIf(side = 'received') > 0 AS was_received,
               anyIf(toNullable(chain_id), side = 'sent') AS sent_on,
               anyIf(toNullable(chain_id), side = 'received') AS received_on,
               anyIf(toNullable(source_blockchain_id), side = 'received') AS received_from,
               anyIf(destination_blockchain_id, side IN ('sent', 'received')) AS destination_blockchain_id,
               anyIf(toNullable(nonce), side IN ('sent', 'received')) AS message_nonce,
               anyIf(toNullable(origin_sender_address), side IN ('sent', 'received')) AS origin_sender_address,
               anyIf(toNullable(destination_address), side IN ('sent', 'received')) AS destination_address,
               anyIf(toNullable(transaction_hash), side = 'sent') AS source_transaction_hash,
               anyIf(toNullable(block_number), side = 'sent') AS source_block_number,
               anyIf(toNullable(block_timestamp), side = 'sent') AS source_block_timestamp,
               anyIf(toNullable(transaction_hash), side = 'received') AS destination_transaction_hash,
               anyIf(toNullable(block_number), side = 'received') AS destination_block_number,
               anyIf(toNullable(block_timestamp), side = 'received') AS destination_block_timestamp,
               anyIf(toNullable(fee_token_address), side = 'sent') AS fee_token_address,
               if(countIf(side = 'fee added') > 0,
                  toNullable(argMaxIf(fee_amount, (block_number, log_index), side = 'fee added')),
                  anyIf(toNullable(fee_amount), side = 'sent')) AS fee_amount,
               anyIf(toNullable(deliverer), side = 'received') AS relayer,
               coalesce(anyIf(toNullable(reward_address), side = 'received'),
                        anyIf(toNullable(reward_address), side = 'receipt')) AS relayer_reward_address,
               countIf(side = 'receipt') > 0 AS receipt_received,
               multiIf(countIf(side = 'executed') > 0, 'executed', countIf(side = 'failed') > 0, 'failed',
                       was_received AND anyIf(no_payload, side = 'received') = 1, 'no payload', NULL) AS execution
        FROM sides
        GROUP BY message_id
        HAVING was_sent OR was_received"""

# each loaded chain's own blockchain id, as its data shows it
CHAINS = f"""
        SELECT chain_id, any(blockchain_id) AS blockchain_id, 1 AS known
        FROM (
            SELECT chain_id, blockchain_id FROM {{db}}.{TELEPORTER_BLOCKCHAIN_ID.dataset.table}
            UNION ALL
            SELECT chain_id, destination_blockchain_id FROM sides WHERE side = 'received'
            UNION ALL
            SELECT assumeNotNull(sent_on), assumeNotNull(received_from) FROM messages WHERE was_sent AND was_received
        )
        GROUP BY chain_id"""

ICM_VIEWS = (
    View(
        "icm_messages",
        "Every ICM (Teleporter) message a loaded chain sent or received, matched by message id across chains: "
        "status (delivered; sent, not received: in flight, or its destination chain or day not loaded; received, "
        "send not loaded), the source and destination blockchain ids (bytes32, lower-case hex) and EVM chain ids, "
        "each side's transaction and block time, the fee (token and amount, token base units, after any fee "
        "added), the relayer that delivered it and its reward address, whether the receipt came back, the "
        "execution on the destination (executed, failed, no payload) and the latency between the chains in "
        "seconds.",
        (TELEPORTER_SEND.dataset, TELEPORTER_RECEIVE.dataset, TELEPORTER_EXECUTED.dataset,
         TELEPORTER_EXECUTION_FAILED.dataset, TELEPORTER_RECEIPT.dataset, TELEPORTER_FEE_ADDED.dataset,
         TELEPORTER_BLOCKCHAIN_ID.dataset),
        f"""
        WITH sides AS ({SIDES}
        ),
        messages AS ({MESSAGES}
        ),
        chains AS ({CHAINS}
        )
        SELECT m.message_id AS message_id,
               multiIf(m.was_sent AND m.was_received, 'delivered', m.was_sent, 'sent, not received',
                       'received, send not loaded') AS status,
               coalesce(m.received_from, if(sc.known = 1, sc.blockchain_id, NULL)) AS source_blockchain_id,
               m.destination_blockchain_id AS destination_blockchain_id,
               coalesce(m.sent_on, if(rc.known = 1, rc.chain_id, NULL)) AS source_chain_id,
               coalesce(m.received_on, if(dc.known = 1, dc.chain_id, NULL)) AS destination_chain_id,
               m.message_nonce AS message_nonce, m.origin_sender_address AS origin_sender_address,
               m.destination_address AS destination_address,
               m.source_transaction_hash AS source_transaction_hash, m.source_block_number AS source_block_number,
               m.source_block_timestamp AS source_block_timestamp,
               m.destination_transaction_hash AS destination_transaction_hash,
               m.destination_block_number AS destination_block_number,
               m.destination_block_timestamp AS destination_block_timestamp,
               m.fee_token_address AS fee_token_address, m.fee_amount AS fee_amount, m.relayer AS relayer,
               m.relayer_reward_address AS relayer_reward_address, m.receipt_received AS receipt_received,
               m.execution AS execution,
               dateDiff('second', m.source_block_timestamp, m.destination_block_timestamp) AS latency_seconds
        FROM messages AS m
        LEFT JOIN chains AS sc ON sc.chain_id = m.sent_on
        LEFT JOIN chains AS rc ON rc.blockchain_id = m.received_from
        LEFT JOIN chains AS dc ON dc.blockchain_id = m.destination_blockchain_id
        """,
    ),
)
