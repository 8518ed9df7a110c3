//! Pure, deterministic subnet planning. Subnets are keyed by availability zone and each AZ
//! owns a fixed slot derived from the AZ's letter suffix (`us-east-1a` → slot 0, `…b` →
//! slot 1, …), never from its position in the list: adding or removing one AZ therefore
//! never changes another AZ's CIDRs (docs/design.md "key by AZ, never by index").
//!
//! Layout inside the VPC CIDR with `newbits = n`: the VPC is cut into `2^n` blocks.
//! Private subnets take blocks `0..SLOTS` (the big, workload-carrying ones), public
//! subnets take blocks `SLOTS..2*SLOTS`. With `SLOTS = 8` every AZ letter `a`–`h` has a home.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

/// How many AZ slots the layout reserves (AZ letters `a` to `h`).
pub const SLOTS: u32 = 8;

/// An IPv4 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cidr {
    pub base: u32,
    pub prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{0:?} is not a CIDR block (expected a.b.c.d/n)")]
    Syntax(String),
    #[error("{0:?} has host bits set; did you mean {1}?")]
    HostBits(String, Cidr),
    #[error("prefix /{0} is outside what a VPC allows (/16 to /28)")]
    VpcPrefix(u8),
    #[error("availability zone {0:?} does not end in a zone letter a-h")]
    ZoneLetter(String),
    #[error(
        "a /{vpc} VPC cut with subnet_newbits = {newbits} gives /{subnet} subnets, smaller than \
         AWS's minimum /28; use a larger vpc_cidr or fewer newbits"
    )]
    TooSmall { vpc: u8, newbits: u8, subnet: u8 },
    #[error(
        "subnet_newbits = {0} leaves room for only {1} subnet blocks, but the layout needs {2} \
         (private and public per AZ slot a-h); use subnet_newbits of at least 4"
    )]
    TooFewBlocks(u8, u32, u32),
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let (ip, len) = s
            .split_once('/')
            .ok_or_else(|| CidrError::Syntax(s.into()))?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| CidrError::Syntax(s.into()))?;
        let prefix: u8 = len
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| CidrError::Syntax(s.into()))?;
        let base = u32::from(ip);
        let c = Cidr {
            base: base & mask(prefix),
            prefix,
        };
        if c.base != base {
            return Err(CidrError::HostBits(s.into(), c));
        }
        Ok(c)
    }

    pub fn size(&self) -> u64 {
        1u64 << (32 - self.prefix as u32)
    }

    pub fn last(&self) -> u32 {
        self.base | !mask(self.prefix)
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.base <= other.last() && other.base <= self.last()
    }

    /// The `index`-th sub-block after adding `newbits` to the prefix (Terraform's `cidrsubnet`).
    pub fn subnet(&self, newbits: u8, index: u32) -> Option<Cidr> {
        let prefix = self.prefix.checked_add(newbits).filter(|p| *p <= 32)?;
        if newbits < 32 && u64::from(index) >= (1u64 << newbits) {
            return None;
        }
        let shift = 32 - prefix as u32;
        let offset = if shift >= 32 {
            0
        } else {
            index.checked_shl(shift)?
        };
        Some(Cidr {
            base: self.base | offset,
            prefix,
        })
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix as u32)
    }
}

/// Checks that a CIDR is usable as a VPC's primary block.
pub fn vpc_cidr(s: &str) -> Result<Cidr, CidrError> {
    let c = Cidr::parse(s)?;
    if !(16..=28).contains(&c.prefix) {
        return Err(CidrError::VpcPrefix(c.prefix));
    }
    Ok(c)
}

/// The AZ's slot: its zone letter (`a` = 0). Local and Wavelength zones are not supported.
pub fn az_slot(az: &str) -> Result<u32, CidrError> {
    match az.chars().last() {
        Some(c @ 'a'..='h') if az.len() > 1 => Ok(c as u32 - 'a' as u32),
        _ => Err(CidrError::ZoneLetter(az.into())),
    }
}

/// The default `newbits`: the largest subnets that still leave room for every slot, capped
/// so that a /16 VPC gets /20 subnets (4,091 usable addresses each).
pub fn default_newbits(_vpc: &Cidr) -> u8 {
    4
}

/// Planned subnets for one AZ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AzSubnets {
    pub private: Cidr,
    pub public: Cidr,
}

/// Subnet CIDRs for every AZ, keyed by AZ name.
pub fn plan(
    vpc: &Cidr,
    newbits: u8,
    azs: &[String],
) -> Result<BTreeMap<String, AzSubnets>, CidrError> {
    let subnet_prefix = vpc.prefix as u32 + newbits as u32;
    if subnet_prefix > 28 {
        return Err(CidrError::TooSmall {
            vpc: vpc.prefix,
            newbits,
            subnet: subnet_prefix.min(255) as u8,
        });
    }
    let blocks = 1u32.checked_shl(newbits as u32).unwrap_or(u32::MAX);
    if blocks < 2 * SLOTS {
        return Err(CidrError::TooFewBlocks(newbits, blocks, 2 * SLOTS));
    }
    let mut out = BTreeMap::new();
    for az in azs {
        let slot = az_slot(az)?;
        let private = vpc.subnet(newbits, slot);
        let public = vpc.subnet(newbits, SLOTS + slot);
        match (private, public) {
            (Some(private), Some(public)) => {
                out.insert(az.clone(), AzSubnets { private, public });
            }
            _ => {
                return Err(CidrError::TooSmall {
                    vpc: vpc.prefix,
                    newbits,
                    subnet: subnet_prefix as u8,
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn azs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parse_and_display() {
        let c = Cidr::parse("10.0.0.0/16").unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/16");
        assert_eq!(c.size(), 65536);
        assert!(matches!(
            Cidr::parse("10.0.0.1/16"),
            Err(CidrError::HostBits(_, _))
        ));
        assert!(Cidr::parse("10.0.0.0").is_err());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("300.0.0.0/16").is_err());
        assert!(matches!(
            vpc_cidr("10.0.0.0/8"),
            Err(CidrError::VpcPrefix(8))
        ));
        assert!(matches!(
            vpc_cidr("10.0.0.0/29"),
            Err(CidrError::VpcPrefix(29))
        ));
    }

    #[test]
    fn layout_matches_cidrsubnet() {
        let vpc = Cidr::parse("10.0.0.0/16").unwrap();
        let p = plan(&vpc, 4, &azs(&["us-east-1a", "us-east-1b", "us-east-1c"])).unwrap();
        assert_eq!(p["us-east-1a"].private.to_string(), "10.0.0.0/20");
        assert_eq!(p["us-east-1b"].private.to_string(), "10.0.16.0/20");
        assert_eq!(p["us-east-1c"].private.to_string(), "10.0.32.0/20");
        assert_eq!(p["us-east-1a"].public.to_string(), "10.0.128.0/20");
        assert_eq!(p["us-east-1c"].public.to_string(), "10.0.160.0/20");
    }

    #[test]
    fn adding_or_removing_an_az_leaves_the_others_alone() {
        let vpc = Cidr::parse("10.1.0.0/16").unwrap();
        let two = plan(&vpc, 4, &azs(&["eu-west-1a", "eu-west-1c"])).unwrap();
        let three = plan(&vpc, 4, &azs(&["eu-west-1b", "eu-west-1a", "eu-west-1c"])).unwrap();
        let one = plan(&vpc, 4, &azs(&["eu-west-1c"])).unwrap();
        assert_eq!(two["eu-west-1a"], three["eu-west-1a"]);
        assert_eq!(two["eu-west-1c"], three["eu-west-1c"]);
        assert_eq!(one["eu-west-1c"], three["eu-west-1c"]);
    }

    #[test]
    fn no_subnets_overlap() {
        let vpc = Cidr::parse("172.16.0.0/20").unwrap();
        let all: Vec<String> = "abcdefgh"
            .chars()
            .map(|c| format!("ap-south-1{c}"))
            .collect();
        let p = plan(&vpc, 4, &all).unwrap();
        let cidrs: Vec<Cidr> = p.values().flat_map(|s| [s.private, s.public]).collect();
        for (i, a) in cidrs.iter().enumerate() {
            assert!(vpc.overlaps(a) && a.base >= vpc.base && a.last() <= vpc.last());
            for b in &cidrs[i + 1..] {
                assert!(!a.overlaps(b), "{a} overlaps {b}");
            }
        }
    }

    #[test]
    fn too_small_or_too_few_blocks() {
        let vpc = Cidr::parse("10.0.0.0/26").unwrap();
        assert!(matches!(
            plan(&vpc, 4, &azs(&["us-east-1a"])),
            Err(CidrError::TooSmall { subnet: 30, .. })
        ));
        let vpc = Cidr::parse("10.0.0.0/16").unwrap();
        assert!(matches!(
            plan(&vpc, 3, &azs(&["us-east-1a"])),
            Err(CidrError::TooFewBlocks(3, 8, 16))
        ));
        assert!(matches!(
            plan(&vpc, 4, &azs(&["us-east-1z"])),
            Err(CidrError::ZoneLetter(_))
        ));
    }
}
