//! Service ClusterIP and NodePort allocation, as upstream's range allocators: a bitmap per
//! range kept in the store (`/registry/ranges/serviceips`, `/registry/ranges/servicenodeports`)
//! and changed with compare-and-swap, so concurrent creates never hand out one value twice.

use super::store_error;
use bytes::Bytes;
use rand::Rng;
use rkube_api::status::ApiError;
use rkube_store::{CreateOutcome, Store, UpdateOutcome};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Why a specific value could not be had.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Outside the range.
    OutOfRange,
    /// Taken by another object.
    Taken,
    /// Every value of the range is taken.
    Full,
}

/// Passes an allocation must be seen without an owner before repair frees it (upstream's
/// repair loops wait three).
pub const LEAK_PASSES: u32 = 3;

/// What one repair pass changed, as offsets.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    /// In use but not marked (lost by a crash between two writes): now marked.
    pub marked: Vec<u32>,
    /// Marked with no owner for [`LEAK_PASSES`] passes: now free.
    pub freed: Vec<u32>,
}

/// One range of small integers (offsets) persisted as a bitmap.
#[derive(Clone)]
pub struct RangeAllocator {
    store: Arc<dyn Store>,
    key: &'static str,
    /// Offsets `0..size` may be allocated.
    size: u32,
    /// The range as text, stored beside the bitmap for operators.
    range: String,
}

impl RangeAllocator {
    /// An allocator over `size` offsets stored at `key`.
    pub fn new(store: Arc<dyn Store>, key: &'static str, size: u32, range: String) -> Self {
        RangeAllocator {
            store,
            key,
            size,
            range,
        }
    }

    /// How many offsets the range has.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Takes `offset`, or a random free one when `None`.
    pub async fn allocate(&self, offset: Option<u32>) -> Result<Result<u32, Refusal>, ApiError> {
        if let Some(o) = offset
            && o >= self.size
        {
            return Ok(Err(Refusal::OutOfRange));
        }
        loop {
            let (mut bits, rev) = self.load().await?;
            let chosen = match offset {
                Some(o) if get(&bits, o) => return Ok(Err(Refusal::Taken)),
                Some(o) => o,
                None => match self.pick_free(&bits) {
                    Some(o) => o,
                    None => return Ok(Err(Refusal::Full)),
                },
            };
            set(&mut bits, chosen, true);
            if self.save(&bits, rev).await? {
                return Ok(Ok(chosen));
            }
        }
    }

    /// Gives `offset` back (nothing if it was not taken).
    pub async fn release(&self, offset: u32) -> Result<(), ApiError> {
        if offset >= self.size {
            return Ok(());
        }
        loop {
            let (mut bits, rev) = self.load().await?;
            if !get(&bits, offset) {
                return Ok(());
            }
            set(&mut bits, offset, false);
            if self.save(&bits, rev).await? {
                return Ok(());
            }
        }
    }

    /// Makes the bitmap say exactly what is in use: offsets in `in_use` are marked, and a
    /// marked offset nobody uses is freed once it has been seen unused on `LEAK_PASSES`
    /// passes in a row (`unused_passes` carries the count between passes), since a create
    /// allocates before its object is stored. Offsets in `reserved` are left as they are.
    pub async fn reconcile(
        &self,
        in_use: &BTreeSet<u32>,
        reserved: &[u32],
        unused_passes: &mut HashMap<u32, u32>,
    ) -> Result<Repaired, ApiError> {
        loop {
            let (mut bits, rev) = self.load().await?;
            let mut out = Repaired::default();
            for &o in in_use.iter().filter(|&&o| o < self.size) {
                if !get(&bits, o) {
                    set(&mut bits, o, true);
                    out.marked.push(o);
                }
            }
            let mut seen = HashMap::new();
            let unused: Vec<u32> = (0..self.size)
                .filter(|o| get(&bits, *o) && !in_use.contains(o) && !reserved.contains(o))
                .collect();
            for o in unused {
                let passes = unused_passes.get(&o).copied().unwrap_or(0) + 1;
                if passes >= LEAK_PASSES {
                    set(&mut bits, o, false);
                    out.freed.push(o);
                } else {
                    seen.insert(o, passes);
                }
            }
            if out.marked.is_empty() && out.freed.is_empty() {
                *unused_passes = seen;
                return Ok(out);
            }
            if self.save(&bits, rev).await? {
                *unused_passes = seen;
                return Ok(out);
            }
        }
    }

    /// Random start, then the first free offset after it (upstream picks randomly too, so
    /// that a re-created service rarely gets the address a client still remembers).
    fn pick_free(&self, bits: &[u8]) -> Option<u32> {
        let start = rand::rng().random_range(0..self.size);
        (0..self.size)
            .map(|i| (start + i) % self.size)
            .find(|&o| !get(bits, o))
    }

    async fn load(&self) -> Result<(Vec<u8>, i64), ApiError> {
        match self.store.get(self.key, 0).await.map_err(store_error)? {
            Some(kv) => {
                let v: Value = serde_json::from_slice(&kv.value)
                    .map_err(|e| ApiError::internal(format!("{} is damaged: {e}", self.key)))?;
                use base64::Engine;
                let mut bits = base64::engine::general_purpose::STANDARD
                    .decode(v["data"].as_str().unwrap_or(""))
                    .map_err(|e| ApiError::internal(format!("{} is damaged: {e}", self.key)))?;
                bits.resize(self.size.div_ceil(8) as usize, 0);
                Ok((bits, kv.mod_revision))
            }
            None => Ok((vec![0; self.size.div_ceil(8) as usize], 0)),
        }
    }

    /// Writes the bitmap if nobody changed it since `rev` (0: if it does not exist yet).
    async fn save(&self, bits: &[u8], rev: i64) -> Result<bool, ApiError> {
        use base64::Engine;
        let doc = json!({
            "kind": "RangeAllocation", "apiVersion": "v1", "range": self.range,
            "data": base64::engine::general_purpose::STANDARD.encode(bits),
        });
        let value = Bytes::from(doc.to_string());
        let ok = if rev == 0 {
            matches!(
                self.store
                    .create(self.key, value, None)
                    .await
                    .map_err(store_error)?,
                CreateOutcome::Created(_)
            )
        } else {
            matches!(
                self.store
                    .update(self.key, value, rev, None)
                    .await
                    .map_err(store_error)?,
                UpdateOutcome::Updated(_)
            )
        };
        Ok(ok)
    }
}

fn get(bits: &[u8], o: u32) -> bool {
    bits.get((o / 8) as usize)
        .is_some_and(|b| b & (1 << (o % 8)) != 0)
}

fn set(bits: &mut [u8], o: u32, on: bool) {
    if let Some(b) = bits.get_mut((o / 8) as usize) {
        if on {
            *b |= 1 << (o % 8);
        } else {
            *b &= !(1 << (o % 8));
        }
    }
}

/// The service IP range: offsets count from the network address; the network address itself
/// and the broadcast address are never handed out.
#[derive(Clone)]
pub struct ServiceIps {
    base: u32,
    alloc: RangeAllocator,
}

impl ServiceIps {
    /// Over `cidr` (e.g. 10.43.0.0/16).
    pub fn new(store: Arc<dyn Store>, cidr: (Ipv4Addr, u8)) -> ServiceIps {
        let (net, bits) = cidr;
        let size = 1u32 << (32 - u32::from(bits.clamp(8, 30)));
        ServiceIps {
            base: u32::from(net) & !(size - 1),
            alloc: RangeAllocator::new(
                store,
                "/registry/ranges/serviceips",
                size,
                format!("{net}/{bits}"),
            ),
        }
    }

    fn size(&self) -> u32 {
        self.alloc.size
    }

    /// The `n`th address of the range.
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base + n)
    }

    /// Allocates `ip`, or a free address when `None`.
    pub async fn allocate(
        &self,
        ip: Option<Ipv4Addr>,
    ) -> Result<Result<Ipv4Addr, Refusal>, ApiError> {
        let offset = match ip {
            Some(ip) => {
                let o = u32::from(ip).wrapping_sub(self.base);
                if o == 0 || o >= self.size() - 1 {
                    return Ok(Err(Refusal::OutOfRange));
                }
                Some(o)
            }
            None => None,
        };
        loop {
            match self.alloc.allocate(offset).await? {
                // Never the network or broadcast address: mark them taken and pick again.
                Ok(o) if o == 0 || o == self.size() - 1 => continue,
                Ok(o) => return Ok(Ok(Ipv4Addr::from(self.base + o))),
                Err(r) => return Ok(Err(r)),
            }
        }
    }

    /// The offset of `ip` in the range, if it lies inside.
    pub fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        let o = u32::from(ip).wrapping_sub(self.base);
        (o < self.size()).then_some(o)
    }

    /// The underlying bitmap (for repair).
    pub fn allocator(&self) -> &RangeAllocator {
        &self.alloc
    }

    /// Gives `ip` back.
    pub async fn release(&self, ip: Ipv4Addr) -> Result<(), ApiError> {
        let o = u32::from(ip).wrapping_sub(self.base);
        if o == 0 || o >= self.size() - 1 {
            return Ok(());
        }
        self.alloc.release(o).await
    }
}

/// The NodePort range (30000–32767 by default).
#[derive(Clone)]
pub struct NodePorts {
    first: u16,
    last: u16,
    alloc: RangeAllocator,
}

impl NodePorts {
    /// Over `first..=last`.
    pub fn new(store: Arc<dyn Store>, first: u16, last: u16) -> NodePorts {
        NodePorts {
            first,
            last,
            alloc: RangeAllocator::new(
                store,
                "/registry/ranges/servicenodeports",
                u32::from(last - first) + 1,
                format!("{first}-{last}"),
            ),
        }
    }

    /// `first-last`, as upstream's messages print the range.
    pub fn range(&self) -> String {
        format!("{}-{}", self.first, self.last)
    }

    /// Allocates `port`, or a free one when `None`.
    pub async fn allocate(&self, port: Option<i64>) -> Result<Result<i64, Refusal>, ApiError> {
        let offset = match port {
            Some(p) if p < i64::from(self.first) || p > i64::from(self.last) => {
                return Ok(Err(Refusal::OutOfRange));
            }
            Some(p) => Some((p - i64::from(self.first)) as u32),
            None => None,
        };
        Ok(self
            .alloc
            .allocate(offset)
            .await?
            .map(|o| i64::from(self.first) + i64::from(o)))
    }

    /// The offset of `port` in the range, if it lies inside.
    pub fn offset(&self, port: i64) -> Option<u32> {
        (i64::from(self.first)..=i64::from(self.last))
            .contains(&port)
            .then(|| (port - i64::from(self.first)) as u32)
    }

    /// The `n`th port of the range.
    pub fn nth(&self, n: u32) -> i64 {
        i64::from(self.first) + i64::from(n)
    }

    /// The underlying bitmap (for repair).
    pub fn allocator(&self) -> &RangeAllocator {
        &self.alloc
    }

    /// Gives `port` back.
    pub async fn release(&self, port: i64) -> Result<(), ApiError> {
        if port < i64::from(self.first) || port > i64::from(self.last) {
            return Ok(());
        }
        self.alloc
            .release((port - i64::from(self.first)) as u32)
            .await
    }
}
