//! Wire codecs for `DynamicValue`: msgpack (what Terraform sends and expects) and JSON
//! (raw state in UpgradeResourceState, and the `json` alternative of DynamicValue).
//!
//! Both follow go-cty's `cty/msgpack` and `cty/json` packages, which Terraform core uses on its
//! side of the wire. Values carry no type, so the schema's type drives both directions.
//!
//! msgpack:
//! - null is `nil`; an unknown value is the extension of type 0 (`d4 00 00`). On decode any
//!   extension of type 0 or 12 ("refined unknown", whose refinement payload is dropped) is
//!   unknown, as is any extension of at most one byte (go-cty's rule).
//! - a number holding an integer exactly is a msgpack int, any other number a float64; ints of
//!   every width, float32/64 and decimal strings (how go-cty sends numbers neither form holds
//!   exactly) are accepted on decode.
//! - lists, sets and tuples are arrays (set elements keep the order given), maps and objects are
//!   maps with string keys. An object is always encoded with every attribute of its type
//!   (absent ones as `nil`); on decode, attributes missing from the payload are null and
//!   attributes the type does not have are an error.
//! - a value of the dynamic pseudo-type is `[type JSON as bin, value encoded with that type]`,
//!   except null and unknown, which are written plainly. The type is inferred from the value
//!   on encode (see `infer_type`) and dropped on decode.
//!
//! JSON (the form of state files and raw state):
//! - null is `null`; unknown values cannot be encoded (an error). Numbers are JSON numbers in
//!   plain decimal; on decode, numbers given as strings, `"true"`/`"false"` for bools and
//!   numbers or bools for strings are accepted, as go-cty's conversion does.
//! - maps and objects are JSON objects, lists, sets and tuples arrays; a dynamic value is
//!   `{"value": <value>, "type": <type JSON>}`.
//! - object attributes missing from the JSON decode to null. Unlike go-cty, attributes the type
//!   does not have are IGNORED: raw state written under an older schema version may still hold
//!   attributes that were since removed, and upgrading such state must not fail.
//! - decoding uses a small parser of our own so that numbers keep their exact decimal text
//!   (serde_json without `float_roundtrip` can be off by one ulp).

mod json;
mod msgpack;

use std::collections::BTreeMap;
use std::fmt;

use super::types::Type;
use super::value::{Number, Value};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("msgpack: {0}")]
    Msgpack(String),
    #[error("json: {0}")]
    Json(String),
    #[error("value does not conform to type {ty}: {why}")]
    Type { ty: String, why: String },
}

/// Encodes `v` as msgpack for a value of type `ty`, as Terraform expects a `DynamicValue`.
pub fn to_msgpack(v: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    msgpack::encode(v, ty)
}

/// Decodes a msgpack `DynamicValue` of type `ty`.
pub fn from_msgpack(b: &[u8], ty: &Type) -> Result<Value, CodecError> {
    msgpack::decode(b, ty)
}

/// Encodes `v` as cty JSON for a value of type `ty`. Fails if anything in `v` is unknown.
pub fn to_json(v: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    json::encode(v, ty)
}

/// Decodes cty JSON (a state file's `attributes`, raw state) of type `ty`. Object attributes
/// the type does not have are ignored; see the module documentation.
pub fn from_json(b: &[u8], ty: &Type) -> Result<Value, CodecError> {
    json::decode(b, ty)
}

/// Deepest nesting of containers (and dynamic wrappers) accepted on decode, so that hostile
/// input cannot exhaust the stack.
const MAX_DEPTH: usize = 512;

/// One step of the path to where an error happened.
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Attr(&'a str),
    Key(&'a str),
    Index(usize),
}

/// Formats a path as Terraform shows it: `.tags["x"]`, `.rules[0].port`.
struct PathDisplay<'p, 'a>(&'p [Step<'a>]);

impl fmt::Display for PathDisplay<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in self.0 {
            match step {
                Step::Attr(name) => write!(f, ".{name}")?,
                Step::Key(key) => write!(f, "[{key:?}]")?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// `why`, followed by where it happened unless that is the root.
fn with_path(why: impl fmt::Display, path: &[Step<'_>]) -> String {
    if path.is_empty() {
        why.to_string()
    } else {
        format!("{why} (at {})", PathDisplay(path))
    }
}

fn type_error(path: &[Step<'_>], ty: &Type, why: impl fmt::Display) -> CodecError {
    CodecError::Type {
        ty: type_name(ty),
        why: with_path(why, path),
    }
}

/// A value whose kind does not fit the type.
fn value_mismatch(path: &[Step<'_>], ty: &Type, v: &Value) -> CodecError {
    type_error(path, ty, format!("got a {} value", value_kind(v)))
}

/// cty's friendly type names: `list(string)`, `object({a=bool})`.
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::Number => "number".into(),
        Type::String => "string".into(),
        Type::Dynamic => "dynamic".into(),
        Type::List(e) => format!("list({})", type_name(e)),
        Type::Set(e) => format!("set({})", type_name(e)),
        Type::Map(e) => format!("map({})", type_name(e)),
        Type::Object(attrs) => {
            let parts: Vec<String> = attrs
                .iter()
                .map(|(k, t)| format!("{k}={}", type_name(t)))
                .collect();
            format!("object({{{}}})", parts.join(", "))
        }
        Type::Tuple(ts) => {
            let parts: Vec<String> = ts.iter().map(type_name).collect();
            format!("tuple([{}])", parts.join(", "))
        }
    }
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
        Value::Tuple(_) => "tuple",
    }
}

/// Elements of any sequence value. Encoding accepts a list, set or tuple value for any
/// sequence type: the type decides the wire form, and cty would convert between them.
fn sequence(v: &Value) -> Option<&[Value]> {
    match v {
        Value::List(e) | Value::Set(e) | Value::Tuple(e) => Some(e),
        _ => None,
    }
}

/// Entries of a map or object value, accepted for either type on encode.
fn mapping(v: &Value) -> Option<&BTreeMap<String, Value>> {
    match v {
        Value::Map(m) | Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The integer a number holds exactly, if any: go-cty writes those as msgpack ints.
fn exact_i64(n: Number) -> Option<i64> {
    match n {
        Number::Int(i) => Some(i),
        Number::Float(f) => {
            // [-2^63, 2^63): every integral float in that range converts exactly.
            let limit = -(i64::MIN as f64);
            (f.fract() == 0.0 && f >= -limit && f < limit).then_some(f as i64)
        }
    }
}

/// The concrete type a value of the dynamic pseudo-type is sent with, inferred from the value
/// (which carries no type): primitives are themselves, objects and tuples are inferred member
/// by member, and lists, sets and maps take the type their elements agree on. Null and
/// unknown members stay `dynamic`, which agrees with anything; an object element type is the
/// union of the elements' attributes (an element lacking one encodes it as null). Elements
/// whose types cannot agree (e.g. a list holding a string and a bool) are an error: Terraform
/// cannot build such a collection.
fn infer_type(v: &Value) -> Result<Type, String> {
    Ok(match v {
        Value::Null | Value::Unknown => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(es) => Type::list(infer_element_type(es.iter(), "list")?),
        Value::Set(es) => Type::set(infer_element_type(es.iter(), "set")?),
        Value::Map(m) => Type::map(infer_element_type(m.values(), "map")?),
        Value::Tuple(es) => Type::Tuple(es.iter().map(infer_type).collect::<Result<_, _>>()?),
        Value::Object(m) => Type::Object(
            m.iter()
                .map(|(k, e)| Ok((k.clone(), infer_type(e)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

fn infer_element_type<'v>(
    elems: impl Iterator<Item = &'v Value>,
    what: &str,
) -> Result<Type, String> {
    let mut acc = Type::Dynamic;
    for e in elems {
        let t = infer_type(e)?;
        let described = type_name(&t);
        acc = unify(acc, t).ok_or_else(|| {
            format!("the elements of a {what} in a dynamic value have different types ({described} among others)")
        })?;
    }
    Ok(acc)
}

/// The type both `a` and `b` fit, treating `dynamic` (from null or unknown) as a wildcard.
fn unify(a: Type, b: Type) -> Option<Type> {
    match (a, b) {
        (Type::Dynamic, t) | (t, Type::Dynamic) => Some(t),
        (Type::List(x), Type::List(y)) => Some(Type::list(unify(*x, *y)?)),
        (Type::Set(x), Type::Set(y)) => Some(Type::set(unify(*x, *y)?)),
        (Type::Map(x), Type::Map(y)) => Some(Type::map(unify(*x, *y)?)),
        (Type::Tuple(xs), Type::Tuple(ys)) if xs.len() == ys.len() => Some(Type::Tuple(
            xs.into_iter()
                .zip(ys)
                .map(|(x, y)| unify(x, y))
                .collect::<Option<_>>()?,
        )),
        (Type::Object(mut xs), Type::Object(ys)) => {
            for (k, y) in ys {
                let merged = match xs.remove(&k) {
                    Some(x) => unify(x, y)?,
                    None => y,
                };
                xs.insert(k, merged);
            }
            Some(Type::Object(xs))
        }
        (a, b) if a == b => Some(a),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().map(|(k, v)| (*k, v.clone())))
    }

    fn float(f: f64) -> Value {
        Value::Number(Number::Float(f))
    }

    fn type_err_text(e: CodecError) -> String {
        match e {
            CodecError::Type { .. } => e.to_string(),
            other => panic!("expected a type error, got {other:?}"),
        }
    }

    // ---------------------------------------------------------------- msgpack byte vectors

    #[test]
    fn msgpack_null_and_unknown() {
        for ty in [Type::String, Type::Dynamic, Type::list(Type::Number)] {
            assert_eq!(to_msgpack(&Value::Null, &ty).unwrap(), vec![0xc0]);
            assert_eq!(to_msgpack(&Value::Unknown, &ty).unwrap(), vec![0xd4, 0, 0]);
            assert_eq!(from_msgpack(&[0xc0], &ty).unwrap(), Value::Null);
            assert_eq!(from_msgpack(&[0xd4, 0, 0], &ty).unwrap(), Value::Unknown);
        }
        // Other lengths of extension 0 are unknown too.
        assert_eq!(
            from_msgpack(&[0xd5, 0, 1, 2], &Type::Bool).unwrap(),
            Value::Unknown
        );
        assert_eq!(
            from_msgpack(&[0xc7, 0, 0], &Type::Bool).unwrap(),
            Value::Unknown
        );
    }

    #[test]
    fn msgpack_refined_unknown() {
        // ext8, 3 bytes, type 12: {1: false} ("definitely not null").
        let not_null = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2];
        assert_eq!(
            from_msgpack(&not_null, &Type::String).unwrap(),
            Value::Unknown
        );
        // {1: false, 2: "ab"} (a string prefix), inside a list.
        let prefix = [
            0x91, 0xc7, 0x07, 0x0c, 0x82, 0x01, 0xc2, 0x02, 0xa2, b'a', b'b',
        ];
        assert_eq!(
            from_msgpack(&prefix, &Type::list(Type::String)).unwrap(),
            Value::List(vec![Value::Unknown])
        );
        // A refined unknown number, as a fixext4 (payload {1: false, 3: ...} truncated is
        // still just skipped: refinements are dropped).
        assert_eq!(
            from_msgpack(&[0xd6, 0x0c, 0x81, 0x01, 0xc2, 0x00], &Type::Number).unwrap(),
            Value::Unknown
        );
        // Other extension types with a payload are not ours.
        assert!(matches!(
            from_msgpack(&[0xd5, 0x05, 1, 2], &Type::Number),
            Err(CodecError::Msgpack(_))
        ));
    }

    #[test]
    fn msgpack_small_object() {
        let ty = Type::object([("a", Type::String), ("b", Type::Number), ("c", Type::Bool)]);
        let v = obj(&[
            ("a", Value::from("x")),
            ("b", Value::int(1)),
            ("c", Value::from(true)),
        ]);
        let bytes = vec![
            0x83, 0xa1, b'a', 0xa1, b'x', 0xa1, b'b', 0x01, 0xa1, b'c', 0xc3,
        ];
        assert_eq!(to_msgpack(&v, &ty).unwrap(), bytes);
        assert_eq!(from_msgpack(&bytes, &ty).unwrap(), v);
    }

    #[test]
    fn msgpack_object_attributes_missing_and_extra() {
        let ty = Type::object([("a", Type::String), ("b", Type::Number)]);
        // Missing in the value: encoded as nil.
        let v = obj(&[("a", Value::from("x"))]);
        let bytes = to_msgpack(&v, &ty).unwrap();
        assert_eq!(bytes, vec![0x82, 0xa1, b'a', 0xa1, b'x', 0xa1, b'b', 0xc0]);
        // Missing in the payload: decoded as null.
        let decoded = from_msgpack(&[0x81, 0xa1, b'a', 0xa1, b'x'], &ty).unwrap();
        assert_eq!(decoded, obj(&[("a", Value::from("x")), ("b", Value::Null)]));
        // An attribute the type lacks: an error, both ways.
        let extra = [0x81, 0xa1, b'z', 0x01];
        let err = type_err_text(from_msgpack(&extra, &ty).unwrap_err());
        assert!(err.contains("unsupported attribute \"z\""), "{err}");
        let err = type_err_text(to_msgpack(&obj(&[("z", Value::int(1))]), &ty).unwrap_err());
        assert!(err.contains("unexpected attribute \"z\""), "{err}");
    }

    #[test]
    fn msgpack_numbers() {
        let n = |b: &[u8]| from_msgpack(b, &Type::Number).unwrap();
        // Encoding: integers as ints (compact), the rest as float64.
        assert_eq!(
            to_msgpack(&Value::int(300), &Type::Number).unwrap(),
            vec![0xcd, 0x01, 0x2c]
        );
        assert_eq!(
            to_msgpack(&Value::int(-1), &Type::Number).unwrap(),
            vec![0xff]
        );
        assert_eq!(to_msgpack(&float(2.0), &Type::Number).unwrap(), vec![0x02]);
        let mut f = vec![0xcb];
        f.extend_from_slice(&1.5f64.to_be_bytes());
        assert_eq!(to_msgpack(&float(1.5), &Type::Number).unwrap(), f);
        assert_eq!(n(&f), float(1.5));
        // Decoding: every int width, signed and unsigned, and float32.
        assert_eq!(n(&[0x05]), Value::int(5));
        assert_eq!(n(&[0xe0]), Value::int(-32));
        assert_eq!(n(&[0xcc, 0xff]), Value::int(255));
        assert_eq!(n(&[0xcd, 0x01, 0x00]), Value::int(256));
        assert_eq!(n(&[0xce, 0, 1, 0, 0]), Value::int(65536));
        assert_eq!(n(&[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]), Value::int(1 << 32));
        assert_eq!(
            n(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            float(u64::MAX as f64)
        );
        assert_eq!(n(&[0xd0, 0x80]), Value::int(-128));
        assert_eq!(n(&[0xd1, 0xff, 0x00]), Value::int(-256));
        assert_eq!(n(&[0xd2, 0xff, 0xff, 0x00, 0x00]), Value::int(-65536));
        assert_eq!(n(&[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]), Value::int(i64::MIN));
        assert_eq!(n(&[0xca, 0x3f, 0xc0, 0x00, 0x00]), float(1.5));
        // A number too big for either is sent as a decimal string.
        let mut big = vec![0xa0 | 22];
        big.extend_from_slice(b"1234567890123456789012");
        assert_eq!(n(&big), float(1234567890123456789012.0));
        assert!(matches!(n(&big), Value::Number(Number::Float(_))));
        let mut int_str = vec![0xa2];
        int_str.extend_from_slice(b"42");
        assert_eq!(n(&int_str), Value::int(42));
        let err = type_err_text(from_msgpack(&[0xa1, b'x'], &Type::Number).unwrap_err());
        assert!(err.contains("\"x\" is not a number"), "{err}");
        // NaN is not a cty number.
        assert!(to_msgpack(&float(f64::NAN), &Type::Number).is_err());
    }

    #[test]
    fn msgpack_collections() {
        let ty = Type::map(Type::list(Type::String));
        let v = Value::Map(
            [
                ("a".to_string(), Value::List(vec![Value::from("x")])),
                ("b".to_string(), Value::List(vec![])),
            ]
            .into(),
        );
        let bytes = vec![0x82, 0xa1, b'a', 0x91, 0xa1, b'x', 0xa1, b'b', 0x90];
        assert_eq!(to_msgpack(&v, &ty).unwrap(), bytes);
        assert_eq!(from_msgpack(&bytes, &ty).unwrap(), v);

        // Sets keep the order given; tuples are arrays of their element types.
        let set = Value::Set(vec![Value::int(3), Value::int(1), Value::int(2)]);
        let st = Type::set(Type::Number);
        assert_eq!(to_msgpack(&set, &st).unwrap(), vec![0x93, 3, 1, 2]);
        assert_eq!(from_msgpack(&[0x93, 3, 1, 2], &st).unwrap(), set);
        let tt = Type::Tuple(vec![Type::String, Type::Bool]);
        let tv = Value::Tuple(vec![Value::from("s"), Value::from(false)]);
        assert_eq!(to_msgpack(&tv, &tt).unwrap(), vec![0x92, 0xa1, b's', 0xc2]);
        assert_eq!(from_msgpack(&[0x92, 0xa1, b's', 0xc2], &tt).unwrap(), tv);
        assert!(from_msgpack(&[0x91, 0xa1, b's'], &tt).is_err());
        // A list value is accepted for a set type (the type decides the wire form).
        assert_eq!(
            to_msgpack(&Value::List(vec![Value::int(1)]), &st).unwrap(),
            vec![0x91, 1]
        );
        // Map keys must be strings.
        assert!(from_msgpack(&[0x81, 0x01, 0x01], &Type::map(Type::Number)).is_err());
    }

    #[test]
    fn msgpack_dynamic() {
        let mut bytes = vec![0x92, 0xc4, 8];
        bytes.extend_from_slice(b"\"string\"");
        bytes.extend_from_slice(&[0xa2, b'h', b'i']);
        assert_eq!(
            to_msgpack(&Value::from("hi"), &Type::Dynamic).unwrap(),
            bytes
        );
        assert_eq!(
            from_msgpack(&bytes, &Type::Dynamic).unwrap(),
            Value::from("hi")
        );
        // The type JSON may also arrive as a msgpack string.
        let mut as_str = vec![0x92, 0xa8];
        as_str.extend_from_slice(b"\"string\"");
        as_str.extend_from_slice(&[0xa2, b'h', b'i']);
        assert_eq!(
            from_msgpack(&as_str, &Type::Dynamic).unwrap(),
            Value::from("hi")
        );

        // A list: the element type is inferred, null elements agree with anything.
        let list = Value::List(vec![Value::int(1), Value::Null]);
        let mut expect = vec![0x92, 0xc4, 17];
        expect.extend_from_slice(br#"["list","number"]"#);
        expect.extend_from_slice(&[0x92, 0x01, 0xc0]);
        assert_eq!(to_msgpack(&list, &Type::Dynamic).unwrap(), expect);
        assert_eq!(from_msgpack(&expect, &Type::Dynamic).unwrap(), list);

        // Inside an object attribute.
        let ty = Type::object([("d", Type::Dynamic)]);
        let v = obj(&[("d", Value::from(true))]);
        let mut expect = vec![0x81, 0xa1, b'd', 0x92, 0xc4, 6];
        expect.extend_from_slice(b"\"bool\"");
        expect.push(0xc3);
        assert_eq!(to_msgpack(&v, &ty).unwrap(), expect);
        assert_eq!(from_msgpack(&expect, &ty).unwrap(), v);

        // Objects and maps of mixed members.
        let v = obj(&[
            ("m", Value::string_map([("k", "v")])),
            ("t", Value::Tuple(vec![Value::int(1), Value::from("x")])),
        ]);
        let bytes = to_msgpack(&v, &Type::Dynamic).unwrap();
        assert_eq!(from_msgpack(&bytes, &Type::Dynamic).unwrap(), v);

        // Elements that cannot agree are an error rather than a broken payload.
        let bad = Value::List(vec![Value::int(1), Value::from("x")]);
        assert!(matches!(
            to_msgpack(&bad, &Type::Dynamic),
            Err(CodecError::Type { .. })
        ));
        // Malformed wrappers.
        assert!(from_msgpack(&[0x91, 0xc0], &Type::Dynamic).is_err());
        assert!(from_msgpack(&[0x92, 0xa1, b'x', 0xc0], &Type::Dynamic).is_err());
    }

    #[test]
    fn msgpack_type_mismatch_reports_the_path() {
        let ty = Type::object([("tags", Type::map(Type::Bool))]);
        // {"tags": {"x": "s"}}
        let bytes = [
            0x81, 0xa4, b't', b'a', b'g', b's', 0x81, 0xa1, b'x', 0xa1, b's',
        ];
        let err = from_msgpack(&bytes, &ty).unwrap_err();
        let text = type_err_text(err);
        assert!(text.contains("type bool"), "{text}");
        assert!(text.contains(".tags[\"x\"]"), "{text}");
        assert!(text.contains("got a msgpack string"), "{text}");

        let v = obj(&[("tags", Value::Map([("x".into(), Value::from("s"))].into()))]);
        let text = type_err_text(to_msgpack(&v, &ty).unwrap_err());
        assert!(text.contains(".tags[\"x\"]"), "{text}");

        let lt = Type::list(Type::object([("port", Type::Number)]));
        let v = Value::List(vec![obj(&[("port", Value::from(true))])]);
        let text = type_err_text(to_msgpack(&v, &lt).unwrap_err());
        assert!(text.contains("[0].port"), "{text}");
    }

    #[test]
    fn msgpack_malformed_input() {
        // Empty, truncated, trailing bytes, reserved marker, bad UTF-8.
        assert!(matches!(
            from_msgpack(&[], &Type::String),
            Err(CodecError::Msgpack(_))
        ));
        assert!(matches!(
            from_msgpack(&[0xa3, b'a'], &Type::String),
            Err(CodecError::Msgpack(_))
        ));
        assert!(matches!(
            from_msgpack(&[0xc0, 0xc0], &Type::String),
            Err(CodecError::Msgpack(_))
        ));
        assert!(matches!(
            from_msgpack(&[0xc1], &Type::String),
            Err(CodecError::Msgpack(_))
        ));
        assert!(from_msgpack(&[0xa1, 0xff], &Type::String).is_err());
        // A huge declared length does not allocate up front.
        assert!(from_msgpack(&[0xdd, 0xff, 0xff, 0xff, 0xff], &Type::list(Type::Bool)).is_err());
        // Dynamic wrappers nested without end are cut off, not a stack overflow.
        let mut bomb = Vec::new();
        for _ in 0..10_000 {
            bomb.extend_from_slice(&[0x92, 0xa9]);
            bomb.extend_from_slice(b"\"dynamic\"");
        }
        bomb.push(0xc0);
        let err = from_msgpack(&bomb, &Type::Dynamic).unwrap_err();
        assert!(err.to_string().contains("nested too deeply"), "{err}");
    }

    // ---------------------------------------------------------------------------- JSON

    #[test]
    fn json_encoding() {
        let ty = Type::object([
            ("a", Type::String),
            ("b", Type::Number),
            ("c", Type::list(Type::Number)),
            ("d", Type::Bool),
            ("e", Type::map(Type::String)),
            ("f", Type::Dynamic),
        ]);
        let v = obj(&[
            ("a", Value::from("x\"\n\u{1}é")),
            ("b", float(1.5)),
            (
                "c",
                Value::List(vec![Value::int(1), float(2.0), float(1e21)]),
            ),
            ("e", Value::string_map([("k", "v")])),
            ("f", Value::from(true)),
        ]);
        let out = String::from_utf8(to_json(&v, &ty).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"a":"x\"\n\u0001é","b":1.5,"c":[1,2,1000000000000000000000],"d":null,"e":{"k":"v"},"f":{"value":true,"type":"bool"}}"#
        );
        assert_eq!(from_json(out.as_bytes(), &ty).unwrap(), {
            let mut w = v.clone();
            w.set_attr("d", Value::Null);
            w
        });
        // Small and large floats are plain decimals, which read back exactly.
        let out = to_json(&float(1e-7), &Type::Number).unwrap();
        assert_eq!(out, b"0.0000001".to_vec());
        assert_eq!(from_json(&out, &Type::Number).unwrap(), float(1e-7));
    }

    #[test]
    fn json_unknown_is_an_error() {
        let ty = Type::object([("a", Type::list(Type::String))]);
        let v = obj(&[("a", Value::List(vec![Value::Unknown]))]);
        match to_json(&v, &ty) {
            Err(CodecError::Json(msg)) => assert!(msg.contains(".a[0]"), "{msg}"),
            other => panic!("expected a JSON error, got {other:?}"),
        }
        assert!(to_json(&Value::Unknown, &Type::Dynamic).is_err());
        assert!(to_json(&float(f64::INFINITY), &Type::Number).is_err());
    }

    #[test]
    fn json_lenient_decoding() {
        let ty = Type::object([
            ("n", Type::Number),
            ("big", Type::Number),
            ("b", Type::Bool),
            ("s", Type::String),
            ("t", Type::String),
            ("missing", Type::list(Type::String)),
        ]);
        let raw =
            br#"{"n":"42","big":"1e400x","b":"true","s":12.50,"t":false,"removed_attr":{"x":1}}"#;
        // "1e400x" is not a number.
        assert!(from_json(raw, &ty).is_err());
        let raw = br#" { "n" : "42", "big": 123456789012345678901234567890, "b": "false",
                        "s": 12.50, "t": false, "removed_attr": {"x": [1, {"y": null}]} } "#;
        let v = from_json(raw, &ty).unwrap();
        assert_eq!(
            v,
            obj(&[
                ("n", Value::int(42)),
                ("big", float(1.2345678901234568e29)),
                ("b", Value::from(false)),
                ("s", Value::from("12.50")),
                ("t", Value::from("false")),
                ("missing", Value::Null),
            ])
        );
        // Escapes, including a surrogate pair.
        assert_eq!(
            from_json(br#""a\u00e9\ud83d\ude00\/\t""#, &Type::String).unwrap(),
            Value::from("a\u{e9}\u{1f600}/\t")
        );
    }

    #[test]
    fn json_dynamic() {
        let v = Value::List(vec![Value::from("a"), Value::Null]);
        let out = to_json(&v, &Type::Dynamic).unwrap();
        assert_eq!(
            out,
            br#"{"value":["a",null],"type":["list","string"]}"#.to_vec()
        );
        assert_eq!(from_json(&out, &Type::Dynamic).unwrap(), v);
        assert_eq!(from_json(b"null", &Type::Dynamic).unwrap(), Value::Null);
        let reordered = br#"{"type":"number","value":5}"#;
        assert_eq!(from_json(reordered, &Type::Dynamic).unwrap(), Value::int(5));
        assert!(from_json(br#"{"value":5}"#, &Type::Dynamic).is_err());
        assert!(from_json(br#"{"type":"number"}"#, &Type::Dynamic).is_err());
        assert!(from_json(br#"{"type":"number","value":5,"x":1}"#, &Type::Dynamic).is_err());
        assert!(from_json(br#"{"type":"nope","value":5}"#, &Type::Dynamic).is_err());
        assert!(from_json(b"5", &Type::Dynamic).is_err());
    }

    #[test]
    fn json_errors() {
        let ty = Type::object([("tags", Type::map(Type::Bool))]);
        let text = type_err_text(from_json(br#"{"tags":{"x":[]}}"#, &ty).unwrap_err());
        assert!(
            text.contains(".tags[\"x\"]") && text.contains("type bool"),
            "{text}"
        );
        let tt = Type::Tuple(vec![Type::Number]);
        assert!(from_json(b"[1,2]", &tt).is_err());
        for bad in [
            &b""[..],
            b"{",
            b"[1,]",
            b"{\"a\" 1}",
            b"01",
            b"1.",
            b"-",
            b"\"\x01\"",
            b"\"\\x\"",
            b"tru",
            b"null x",
            b"\xff",
        ] {
            assert!(
                matches!(from_json(bad, &Type::Dynamic), Err(CodecError::Json(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "[".repeat(100_000);
        assert!(from_json(deep.as_bytes(), &Type::list(Type::Dynamic)).is_err());
    }

    // ------------------------------------------------------------------ property tests

    fn arb_name() -> impl Strategy<Value = String> {
        "[a-z_]{1,6}"
    }

    /// A random type of bounded depth; `dynamic` only when `with_dynamic`.
    fn arb_type(with_dynamic: bool) -> BoxedStrategy<Type> {
        let leaf = if with_dynamic {
            prop_oneof![
                Just(Type::Bool),
                Just(Type::Number),
                Just(Type::String),
                Just(Type::Dynamic),
            ]
            .boxed()
        } else {
            prop_oneof![Just(Type::Bool), Just(Type::Number), Just(Type::String)].boxed()
        };
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(Type::list),
                inner.clone().prop_map(Type::set),
                inner.clone().prop_map(Type::map),
                prop::collection::btree_map(arb_name(), inner.clone(), 0..4).prop_map(Type::Object),
                prop::collection::vec(inner, 0..4).prop_map(Type::Tuple),
            ]
        })
        .boxed()
    }

    fn arb_number() -> BoxedStrategy<Number> {
        prop_oneof![
            any::<i64>().prop_map(Number::Int),
            (-1000i64..1000).prop_map(Number::Int),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Number::Float),
            (-1.0e6f64..1.0e6).prop_map(Number::Float),
        ]
        .boxed()
    }

    /// A random value of type `ty`, with null (and unknown, when `unknowns`) at any level.
    fn arb_value(ty: &Type, unknowns: bool) -> BoxedStrategy<Value> {
        let known: BoxedStrategy<Value> = match ty {
            Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
            Type::Number => arb_number().prop_map(Value::Number).boxed(),
            Type::String => ".{0,8}".prop_map(Value::String).boxed(),
            Type::Dynamic => arb_type(false)
                .prop_flat_map(move |t| arb_value(&t, unknowns))
                .boxed(),
            Type::List(e) => prop::collection::vec(arb_value(e, unknowns), 0..4)
                .prop_map(Value::List)
                .boxed(),
            Type::Set(e) => prop::collection::vec(arb_value(e, unknowns), 0..4)
                .prop_map(Value::Set)
                .boxed(),
            Type::Map(e) => prop::collection::btree_map(".{0,4}", arb_value(e, unknowns), 0..4)
                .prop_map(Value::Map)
                .boxed(),
            Type::Tuple(ts) => ts
                .iter()
                .map(|t| arb_value(t, unknowns))
                .collect::<Vec<_>>()
                .prop_map(Value::Tuple)
                .boxed(),
            Type::Object(attrs) => {
                let names: Vec<String> = attrs.keys().cloned().collect();
                attrs
                    .values()
                    .map(|t| arb_value(t, unknowns))
                    .collect::<Vec<_>>()
                    .prop_map(move |vals| Value::Object(names.iter().cloned().zip(vals).collect()))
                    .boxed()
            }
        };
        if unknowns {
            prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
        } else {
            prop_oneof![1 => Just(Value::Null), 7 => known].boxed()
        }
    }

    fn arb_typed_value(unknowns: bool) -> impl Strategy<Value = (Type, Value)> {
        arb_type(true).prop_flat_map(move |t| (Just(t.clone()), arb_value(&t, unknowns)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn msgpack_round_trip((ty, v) in arb_typed_value(true)) {
            let bytes = to_msgpack(&v, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = from_msgpack(&bytes, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, v);
        }

        #[test]
        fn json_round_trip((ty, v) in arb_typed_value(false)) {
            let bytes = to_json(&v, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = from_json(&bytes, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, v);
        }

        #[test]
        fn json_output_is_valid_json((ty, v) in arb_typed_value(false)) {
            let bytes = to_json(&v, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok());
        }

        #[test]
        fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64), ty in arb_type(true)) {
            let _ = from_msgpack(&bytes, &ty);
            let _ = from_json(&bytes, &ty);
        }
    }
}
