//! The msgpack form of cty values, as go-cty's `cty/msgpack` writes and reads it.

use std::collections::BTreeMap;
use std::fmt;

use rmp::encode as wr;
use rmp::Marker;

use super::{
    exact_i64, infer_type, mapping, sequence, type_error, value_mismatch, with_path, CodecError,
    Step, MAX_DEPTH,
};
use crate::types::Type;
use crate::value::{Number, Value};

/// go-cty's encoding of a wholly unknown value: fixext1, extension type 0, one zero byte.
const UNKNOWN: [u8; 3] = [0xd4, 0x00, 0x00];
/// Extension type of an unknown value.
const EXT_UNKNOWN: i8 = 0;
/// Extension type of an unknown value with refinements (a msgpack map in the payload).
const EXT_REFINED_UNKNOWN: i8 = 12;

// ------------------------------------------------------------------------------ encoding

pub(super) fn encode(v: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    write_value(&mut out, v, ty, &mut path)?;
    Ok(out)
}

fn io_error(e: impl fmt::Display) -> CodecError {
    CodecError::Msgpack(format!("write failed: {e}"))
}

fn len_u32(n: usize, path: &[Step<'_>]) -> Result<u32, CodecError> {
    u32::try_from(n)
        .map_err(|_| CodecError::Msgpack(with_path(format!("{n} elements are too many"), path)))
}

fn write_value<'a>(
    out: &mut Vec<u8>,
    v: &'a Value,
    ty: &Type,
    path: &mut Vec<Step<'a>>,
) -> Result<(), CodecError> {
    match v {
        Value::Null => return wr::write_nil(out).map_err(io_error),
        Value::Unknown => {
            out.extend_from_slice(&UNKNOWN);
            return Ok(());
        }
        _ => {}
    }
    match ty {
        Type::Dynamic => {
            let inner = infer_type(v).map_err(|why| type_error(path, ty, why))?;
            wr::write_array_len(out, 2).map_err(io_error)?;
            wr::write_bin(out, &inner.to_json_bytes()).map_err(io_error)?;
            write_value(out, v, &inner, path)
        }
        Type::Bool => match v {
            Value::Bool(b) => wr::write_bool(out, *b).map_err(io_error),
            _ => Err(value_mismatch(path, ty, v)),
        },
        Type::Number => match v {
            Value::Number(n) => write_number(out, *n, ty, path),
            _ => Err(value_mismatch(path, ty, v)),
        },
        Type::String => match v {
            Value::String(s) => wr::write_str(out, s).map_err(io_error),
            _ => Err(value_mismatch(path, ty, v)),
        },
        Type::List(et) | Type::Set(et) => {
            let elems = sequence(v).ok_or_else(|| value_mismatch(path, ty, v))?;
            wr::write_array_len(out, len_u32(elems.len(), path)?).map_err(io_error)?;
            for (i, e) in elems.iter().enumerate() {
                path.push(Step::Index(i));
                write_value(out, e, et, path)?;
                path.pop();
            }
            Ok(())
        }
        Type::Tuple(ts) => {
            let elems = sequence(v).ok_or_else(|| value_mismatch(path, ty, v))?;
            if elems.len() != ts.len() {
                return Err(type_error(
                    path,
                    ty,
                    format!("{} elements are required, got {}", ts.len(), elems.len()),
                ));
            }
            wr::write_array_len(out, len_u32(elems.len(), path)?).map_err(io_error)?;
            for (i, (e, et)) in elems.iter().zip(ts).enumerate() {
                path.push(Step::Index(i));
                write_value(out, e, et, path)?;
                path.pop();
            }
            Ok(())
        }
        Type::Map(et) => {
            let entries = mapping(v).ok_or_else(|| value_mismatch(path, ty, v))?;
            wr::write_map_len(out, len_u32(entries.len(), path)?).map_err(io_error)?;
            for (k, e) in entries {
                wr::write_str(out, k).map_err(io_error)?;
                path.push(Step::Key(k));
                write_value(out, e, et, path)?;
                path.pop();
            }
            Ok(())
        }
        Type::Object(attrs) => {
            let entries = mapping(v).ok_or_else(|| value_mismatch(path, ty, v))?;
            if let Some(extra) = entries.keys().find(|k| !attrs.contains_key(*k)) {
                path.push(Step::Attr(extra));
                return Err(type_error(
                    path,
                    ty,
                    format!("unexpected attribute {extra:?}"),
                ));
            }
            // Every attribute of the type, in name order, as go-cty writes them.
            wr::write_map_len(out, len_u32(attrs.len(), path)?).map_err(io_error)?;
            for (name, at) in attrs {
                wr::write_str(out, name).map_err(io_error)?;
                match entries.get_key_value(name) {
                    Some((k, av)) => {
                        path.push(Step::Attr(k));
                        write_value(out, av, at, path)?;
                        path.pop();
                    }
                    None => wr::write_nil(out).map_err(io_error)?,
                }
            }
            Ok(())
        }
    }
}

/// An integer as the most compact msgpack int, anything else as a float64 (go-cty's order).
fn write_number(
    out: &mut Vec<u8>,
    n: Number,
    ty: &Type,
    path: &[Step<'_>],
) -> Result<(), CodecError> {
    if let Some(i) = exact_i64(n) {
        return wr::write_sint(out, i).map(|_| ()).map_err(io_error);
    }
    let f = n.as_f64();
    if f.is_nan() {
        return Err(type_error(path, ty, "NaN is not a number"));
    }
    wr::write_f64(out, f).map_err(io_error)
}

// ------------------------------------------------------------------------------ decoding

pub(super) fn decode(b: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut r = Reader { buf: b, pos: 0 };
    let mut path = Vec::new();
    let v = read_value(&mut r, ty, &mut path, 0)?;
    if r.pos != b.len() {
        return Err(CodecError::Msgpack(format!(
            "{} unexpected bytes after the value",
            b.len() - r.pos
        )));
    }
    Ok(v)
}

/// One msgpack item: a scalar in full, or the header of an array or map.
enum Item<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    F32(f32),
    F64(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    Ext(i8, &'a [u8]),
}

impl Item<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Item::Nil => "nil",
            Item::Bool(_) => "bool",
            Item::Int(_) | Item::Uint(_) => "integer",
            Item::F32(_) | Item::F64(_) => "float",
            Item::Str(_) => "string",
            Item::Bin(_) => "binary",
            Item::Array(_) => "array",
            Item::Map(_) => "map",
            Item::Ext(..) => "extension",
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let s = self
            .pos
            .checked_add(n)
            .and_then(|end| self.buf.get(self.pos..end))
            .ok_or_else(|| format!("unexpected end of input at byte {}", self.buf.len()))?;
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        self.take(N)?
            .try_into()
            .map_err(|_| "unexpected end of input".to_string())
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(u8::from_be_bytes(self.array()?))
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn len8(&mut self) -> Result<usize, String> {
        Ok(usize::from(self.u8()?))
    }
    fn len16(&mut self) -> Result<usize, String> {
        Ok(usize::from(self.u16()?))
    }
    fn len32(&mut self) -> Result<usize, String> {
        usize::try_from(self.u32()?).map_err(|_| "length too large".to_string())
    }

    fn ext(&mut self, len: usize) -> Result<Item<'a>, String> {
        let code = i8::from_be_bytes(self.array()?);
        Ok(Item::Ext(code, self.take(len)?))
    }

    fn item(&mut self) -> Result<Item<'a>, String> {
        let at = self.pos;
        let marker = self.u8()?;
        Ok(match Marker::from_u8(marker) {
            Marker::FixPos(n) => Item::Int(i64::from(n)),
            Marker::FixNeg(n) => Item::Int(i64::from(n)),
            Marker::Null => Item::Nil,
            Marker::True => Item::Bool(true),
            Marker::False => Item::Bool(false),
            Marker::U8 => Item::Int(i64::from(self.u8()?)),
            Marker::U16 => Item::Int(i64::from(self.u16()?)),
            Marker::U32 => Item::Int(i64::from(self.u32()?)),
            Marker::U64 => Item::Uint(u64::from_be_bytes(self.array()?)),
            Marker::I8 => Item::Int(i64::from(i8::from_be_bytes(self.array()?))),
            Marker::I16 => Item::Int(i64::from(i16::from_be_bytes(self.array()?))),
            Marker::I32 => Item::Int(i64::from(i32::from_be_bytes(self.array()?))),
            Marker::I64 => Item::Int(i64::from_be_bytes(self.array()?)),
            Marker::F32 => Item::F32(f32::from_be_bytes(self.array()?)),
            Marker::F64 => Item::F64(f64::from_be_bytes(self.array()?)),
            Marker::FixStr(n) => Item::Str(self.take(usize::from(n))?),
            Marker::Str8 => {
                let n = self.len8()?;
                Item::Str(self.take(n)?)
            }
            Marker::Str16 => {
                let n = self.len16()?;
                Item::Str(self.take(n)?)
            }
            Marker::Str32 => {
                let n = self.len32()?;
                Item::Str(self.take(n)?)
            }
            Marker::Bin8 => {
                let n = self.len8()?;
                Item::Bin(self.take(n)?)
            }
            Marker::Bin16 => {
                let n = self.len16()?;
                Item::Bin(self.take(n)?)
            }
            Marker::Bin32 => {
                let n = self.len32()?;
                Item::Bin(self.take(n)?)
            }
            Marker::FixArray(n) => Item::Array(usize::from(n)),
            Marker::Array16 => Item::Array(self.len16()?),
            Marker::Array32 => Item::Array(self.len32()?),
            Marker::FixMap(n) => Item::Map(usize::from(n)),
            Marker::Map16 => Item::Map(self.len16()?),
            Marker::Map32 => Item::Map(self.len32()?),
            Marker::FixExt1 => self.ext(1)?,
            Marker::FixExt2 => self.ext(2)?,
            Marker::FixExt4 => self.ext(4)?,
            Marker::FixExt8 => self.ext(8)?,
            Marker::FixExt16 => self.ext(16)?,
            Marker::Ext8 => {
                let n = self.len8()?;
                self.ext(n)?
            }
            Marker::Ext16 => {
                let n = self.len16()?;
                self.ext(n)?
            }
            Marker::Ext32 => {
                let n = self.len32()?;
                self.ext(n)?
            }
            Marker::Reserved => return Err(format!("invalid marker 0x{marker:02x} at byte {at}")),
        })
    }
}

fn structural(path: &[Step<'_>], why: impl fmt::Display) -> CodecError {
    CodecError::Msgpack(with_path(why, path))
}

fn item_mismatch(path: &[Step<'_>], ty: &Type, item: &Item<'_>) -> CodecError {
    type_error(path, ty, format!("got a msgpack {}", item.kind()))
}

fn utf8<'a>(b: &'a [u8], path: &[Step<'_>]) -> Result<&'a str, CodecError> {
    std::str::from_utf8(b).map_err(|_| structural(path, "string is not valid UTF-8"))
}

/// The key of a map or object entry: a string (go-cty also takes binary).
fn read_key<'a>(r: &mut Reader<'a>, path: &[Step<'_>]) -> Result<&'a str, CodecError> {
    match r.item().map_err(|e| structural(path, e))? {
        Item::Str(b) | Item::Bin(b) => utf8(b, path),
        other => Err(structural(
            path,
            format!("map keys must be strings, got a {}", other.kind()),
        )),
    }
}

fn read_value<'a>(
    r: &mut Reader<'a>,
    ty: &Type,
    path: &mut Vec<Step<'a>>,
    depth: usize,
) -> Result<Value, CodecError> {
    if depth > MAX_DEPTH {
        return Err(structural(path, "value is nested too deeply"));
    }
    let item = r.item().map_err(|e| structural(path, e))?;
    match item {
        Item::Nil => return Ok(Value::Null),
        Item::Ext(code, data) => {
            // Unknown, possibly refined (refinements are dropped). Like go-cty, any extension
            // of at most one byte counts as unknown too.
            return if code == EXT_UNKNOWN || code == EXT_REFINED_UNKNOWN || data.len() <= 1 {
                Ok(Value::Unknown)
            } else {
                Err(structural(
                    path,
                    format!(
                        "unsupported extension type {code} with {} bytes",
                        data.len()
                    ),
                ))
            };
        }
        _ => {}
    }
    match ty {
        Type::Dynamic => {
            let Item::Array(2) = item else {
                return Err(type_error(
                    path,
                    ty,
                    format!(
                        "a dynamic value must be a [type, value] array, got a msgpack {}",
                        item.kind()
                    ),
                ));
            };
            let type_json = match r.item().map_err(|e| structural(path, e))? {
                Item::Bin(b) | Item::Str(b) => b,
                other => {
                    return Err(type_error(
                        path,
                        ty,
                        format!(
                            "the type of a dynamic value must be JSON bytes, got a msgpack {}",
                            other.kind()
                        ),
                    ))
                }
            };
            let inner = parse_type(type_json).map_err(|why| type_error(path, ty, why))?;
            read_value(r, &inner, path, depth + 1)
        }
        Type::Bool => match item {
            Item::Bool(b) => Ok(Value::Bool(b)),
            other => Err(item_mismatch(path, ty, &other)),
        },
        Type::Number => {
            let n = match item {
                Item::Int(i) => Number::Int(i),
                Item::Uint(u) => i64::try_from(u).map_or(Number::Float(u as f64), Number::Int),
                Item::F32(f) => Number::Float(f64::from(f)),
                Item::F64(f) => Number::Float(f),
                // go-cty sends numbers that neither an int nor a float64 holds exactly as
                // decimal strings.
                Item::Str(b) => {
                    let text = utf8(b, path)?;
                    Number::parse(text)
                        .ok_or_else(|| type_error(path, ty, format!("{text:?} is not a number")))?
                }
                other => return Err(item_mismatch(path, ty, &other)),
            };
            if let Number::Float(f) = n {
                if f.is_nan() {
                    return Err(type_error(path, ty, "NaN is not a number"));
                }
            }
            Ok(Value::Number(n))
        }
        Type::String => match item {
            Item::Str(b) | Item::Bin(b) => Ok(Value::String(utf8(b, path)?.to_owned())),
            other => Err(item_mismatch(path, ty, &other)),
        },
        Type::List(et) | Type::Set(et) => {
            let Item::Array(n) = item else {
                return Err(item_mismatch(path, ty, &item));
            };
            // Every element takes at least one byte: a bogus length cannot over-allocate.
            let mut elems = Vec::with_capacity(n.min(r.remaining()));
            for i in 0..n {
                path.push(Step::Index(i));
                elems.push(read_value(r, et, path, depth + 1)?);
                path.pop();
            }
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(elems)
            } else {
                Value::List(elems)
            })
        }
        Type::Tuple(ts) => {
            let Item::Array(n) = item else {
                return Err(item_mismatch(path, ty, &item));
            };
            if n != ts.len() {
                return Err(type_error(
                    path,
                    ty,
                    format!("{} elements are required, got {n}", ts.len()),
                ));
            }
            let mut elems = Vec::with_capacity(n);
            for (i, et) in ts.iter().enumerate() {
                path.push(Step::Index(i));
                elems.push(read_value(r, et, path, depth + 1)?);
                path.pop();
            }
            Ok(Value::Tuple(elems))
        }
        Type::Map(et) => {
            let Item::Map(n) = item else {
                return Err(item_mismatch(path, ty, &item));
            };
            let mut entries = BTreeMap::new();
            for _ in 0..n {
                let key = read_key(r, path)?;
                path.push(Step::Key(key));
                let v = read_value(r, et, path, depth + 1)?;
                path.pop();
                entries.insert(key.to_owned(), v);
            }
            Ok(Value::Map(entries))
        }
        Type::Object(attrs) => {
            let Item::Map(n) = item else {
                return Err(item_mismatch(path, ty, &item));
            };
            let mut entries = BTreeMap::new();
            for _ in 0..n {
                let key = read_key(r, path)?;
                path.push(Step::Attr(key));
                let Some(at) = attrs.get(key) else {
                    return Err(type_error(
                        path,
                        ty,
                        format!("unsupported attribute {key:?}"),
                    ));
                };
                let v = read_value(r, at, path, depth + 1)?;
                path.pop();
                entries.insert(key.to_owned(), v);
            }
            for name in attrs.keys() {
                entries.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(entries))
        }
    }
}

/// The type a dynamic value arrived with, from its JSON encoding.
fn parse_type(b: &[u8]) -> Result<Type, String> {
    let text = String::from_utf8_lossy(b);
    let json: serde_json::Value = serde_json::from_slice(b)
        .map_err(|e| format!("invalid type JSON {text:?} in a dynamic value: {e}"))?;
    Type::from_json(&json).ok_or_else(|| format!("unsupported type {text} in a dynamic value"))
}
