//! Property tests: random nested values survive `cmsgpack` and `cjson`
//! round trips.

use std::collections::BTreeMap;

use mlua::{Function, Lua, Value};
use proptest::prelude::*;

use super::test_support;

/// A Lua value both libraries can carry: no nil, no functions; arrays are
/// non-empty (an empty table comes back as an empty map).
#[derive(Clone, Debug, PartialEq)]
enum Model {
    Bool(bool),
    Number(f64),
    Bytes(Vec<u8>),
    Array(Vec<Model>),
    Map(BTreeMap<Vec<u8>, Model>),
}

fn model(number: impl Strategy<Value = f64> + 'static) -> impl Strategy<Value = Model> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Model::Bool),
        number.prop_map(Model::Number),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Model::Bytes),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..6).prop_map(Model::Array),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..8),
                inner,
                0..6
            )
            .prop_map(Model::Map),
        ]
    })
}

/// Numbers cjson writes exactly: at most 14 significant digits.
fn json_number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-10_000_000_000_000i64..10_000_000_000_000).prop_map(|n| n as f64),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 8.0),
        Just(-0.0),
    ]
}

fn to_lua(lua: &Lua, model: &Model) -> mlua::Result<Value> {
    Ok(match model {
        Model::Bool(b) => Value::Boolean(*b),
        Model::Number(n) => Value::Number(*n),
        Model::Bytes(bytes) => Value::String(lua.create_string(bytes)?),
        Model::Array(items) => {
            let table = lua.create_table()?;
            for item in items {
                table.raw_push(to_lua(lua, item)?)?;
            }
            Value::Table(table)
        }
        Model::Map(entries) => {
            let table = lua.create_table()?;
            for (key, value) in entries {
                table.raw_set(lua.create_string(key)?, to_lua(lua, value)?)?;
            }
            Value::Table(table)
        }
    })
}

fn from_lua(value: Value) -> Model {
    match value {
        Value::Boolean(b) => Model::Bool(b),
        Value::Integer(i) => Model::Number(i as f64),
        Value::Number(n) => Model::Number(n),
        Value::String(s) => Model::Bytes(s.as_bytes().to_vec()),
        Value::Table(table) => {
            let pairs: Vec<(Value, Value)> =
                table.pairs().map(|pair| pair.expect("pair")).collect();
            let is_array = !pairs.is_empty()
                && (1..=pairs.len()).all(|i| table.raw_get::<Value>(i).is_ok_and(|v| !v.is_nil()));
            if is_array {
                Model::Array(
                    (1..=pairs.len())
                        .map(|i| from_lua(table.raw_get(i).expect("item")))
                        .collect(),
                )
            } else {
                Model::Map(
                    pairs
                        .into_iter()
                        .map(|(key, value)| match key {
                            Value::String(key) => (key.as_bytes().to_vec(), from_lua(value)),
                            other => panic!("unexpected key {other:?}"),
                        })
                        .collect(),
                )
            }
        }
        other => panic!("unexpected value {other:?}"),
    }
}

fn round_trip(lua: &Lua, code: &str, model: &Model) -> Model {
    let function: Function = lua.load(code).eval().expect("function");
    from_lua(
        function
            .call(to_lua(lua, model).expect("to lua"))
            .expect("round trip"),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn cmsgpack_round_trips(value in model(any::<f64>().prop_filter("NaN never equals itself", |n| !n.is_nan()))) {
        let lua = test_support::lua();
        let back = round_trip(&lua, "return function(v) return cmsgpack.unpack(cmsgpack.pack(v)) end", &value);
        prop_assert_eq!(back, value);
    }

    #[test]
    fn cjson_round_trips(value in model(json_number())) {
        let lua = test_support::lua();
        let back = round_trip(&lua, "return function(v) return cjson.decode(cjson.encode(v)) end", &value);
        prop_assert_eq!(back, value);
    }

    #[test]
    fn several_values_pack_and_unpack_in_order(values in proptest::collection::vec(model(-1e6f64..1e6), 1..5)) {
        let lua = test_support::lua();
        let args: Vec<Value> = values.iter().map(|v| to_lua(&lua, v).expect("to lua")).collect();
        let function: Function = lua
            .load("return function(...) return cmsgpack.unpack(cmsgpack.pack(...)) end")
            .eval()
            .expect("function");
        let back: mlua::MultiValue = function.call(mlua::MultiValue::from_iter(args)).expect("round trip");
        let back: Vec<Model> = back.into_iter().map(from_lua).collect();
        prop_assert_eq!(back, values);
    }
}
