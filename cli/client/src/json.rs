//! JSON output of the API (the CLI's `--output json`, the explorer's `/api/v1/`): the protobuf JSON mapping, with ids in hex.

/// The byte fields that are data, not ids: transaction bytes stay base64.
#[cfg(test)]
const DATA_FIELDS: &[&str] = &["body", "transaction", "transactions"];

/// The byte fields that are ids (hashes, keys, signatures, in the protobuf JSON
/// mapping's camelCase): shown in hex, as tables show them and as every argument takes
/// them, instead of the mapping's base64. Transaction bytes ([`DATA_FIELDS`]) stay
/// base64; a test checks that every bytes field of the API is one or the other.
const HEX_FIELDS: &[&str] = &[
    "authorityKey",
    "blockHash",
    "genesisHash",
    "holderKey",
    "latestBlockHash",
    "parentHash",
    "parentStateRoot",
    "protocolAmendmentTextHash",
    "publicKey",
    "removeValidator",
    "signature",
    "signer",
    "stateRoot",
    "textHash",
    "transactionHashes",
    "transactionsRoot",
    "txHash",
];

fn base64_to_hex(v: &mut serde_json::Value) {
    use base64::Engine as _;
    match v {
        serde_json::Value::String(s) => {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s.as_bytes()) {
                *s = hex::encode(bytes);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(base64_to_hex),
        _ => {}
    }
}

/// Rewrites every id field of a JSON document in hex.
pub fn ids_in_hex(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if HEX_FIELDS.contains(&k.as_str()) {
                    base64_to_hex(x);
                } else {
                    ids_in_hex(x);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(ids_in_hex),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use kyoto_proto::v1 as pb;

    use super::*;

    /// The protobuf JSON name of a field: lowerCamelCase of its name.
    fn json_name(name: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in name.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn every_bytes_field_of_the_api_is_an_id_in_hex_or_data_in_base64() {
        use prost::Message;
        use prost_types::field_descriptor_proto::Type;
        let set = prost_types::FileDescriptorSet::decode(kyoto_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut unclassified = Vec::new();
        let mut seen = 0;
        // The API and the wire types a client sees; the consensus messages between
        // validators never reach the CLI.
        let mut stack: Vec<&prost_types::DescriptorProto> = set
            .file
            .iter()
            .filter(|f| f.name() != "kyoto/v1/consensus.proto")
            .flat_map(|f| f.message_type.iter())
            .collect();
        while let Some(m) = stack.pop() {
            stack.extend(m.nested_type.iter());
            for f in &m.field {
                if f.r#type() != Type::Bytes {
                    continue;
                }
                seen += 1;
                let name = json_name(f.name());
                if !HEX_FIELDS.contains(&name.as_str()) && !DATA_FIELDS.contains(&name.as_str()) {
                    unclassified.push(format!("{}.{}", m.name(), f.name()));
                }
            }
        }
        assert!(seen > 20, "{seen} bytes fields");
        assert!(
            unclassified.is_empty(),
            "neither id nor data: {unclassified:?}"
        );
    }

    #[test]
    fn json_shows_ids_in_hex_and_transaction_bytes_in_base64() {
        let block = pb::GetBlockResponse {
            block: Some(pb::Block {
                header: Some(pb::BlockHeader {
                    parent_hash: vec![0xab; 32],
                    ..Default::default()
                }),
                transactions: vec![vec![1, 2, 3]],
            }),
            block_hash: vec![0x01; 32],
            transaction_hashes: vec![vec![0xff; 32]],
            receipts: vec![pb::Receipt {
                signer: vec![0x0f; 32],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut v = serde_json::to_value(&block).unwrap();
        ids_in_hex(&mut v);
        assert_eq!(v["blockHash"], "01".repeat(32));
        assert_eq!(v["block"]["header"]["parentHash"], "ab".repeat(32));
        assert_eq!(v["transactionHashes"][0], "ff".repeat(32));
        assert_eq!(v["receipts"][0]["signer"], "0f".repeat(32));
        assert_eq!(v["block"]["transactions"][0], "AQID");
    }
}
