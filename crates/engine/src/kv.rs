//! The paged KV cache with prefix caching: vLLM V1's block pool (ref counts, LRU free queue,
//! lazy eviction) and a per-request block table on top of it.

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use crate::request::Request;

const NIL: u32 = u32::MAX;

/// A block's place in the LRU free queue and its cached hash (prefix-caching pools only).
#[derive(Clone, Debug)]
struct Link {
    /// The prefix identity cached in this block, if any (kept after free: lazy eviction).
    hash: Option<u64>,
    prev: u32,
    next: u32,
}

/// A fixed pool of KV blocks with a doubly-linked LRU free queue and a hash → block index.
///
/// Freed blocks join the queue's tail and keep their hash, so they can still be hit until they
/// are reused from the head (lazy eviction). Duplicate hashes are allowed; a lookup returns the
/// first block registered for the hash.
///
/// Without prefix caching no block carries a hash, so the order of reuse cannot matter: the pool
/// then keeps its free blocks on a stack, which is much cheaper than the linked queue, and keeps
/// no links at all. Reference counts, where kept, sit in their own dense array (4 bytes a
/// block), touched once per block on allocation and release: with 16 replicas of ~29,000
/// blocks, 32-byte blocks were 15 MB of mostly cache misses on long prompts.
///
/// In stack mode the counts are implicit while no block is shared (only a cache hit shares
/// one, and without hashes there are none): a block is then referenced once exactly when it is
/// not on the stack, so a request's blocks move between its table and the stack as whole runs
/// (copies) without touching a count per block, which at 16 replicas were cache misses. A
/// `touch` writes the counts out and keeps them from then on.
#[derive(Clone, Debug)]
pub struct BlockPool {
    num_blocks: u32,
    /// Per block, in linked mode and in stack mode once a block was shared; empty in stack
    /// mode before (counts implicit).
    ref_cnt: Vec<u32>,
    /// One per block with the linked queue; empty in stack mode.
    links: Vec<Link>,
    free_head: u32,
    free_tail: u32,
    num_free: u32,
    cached: FxHashMap<u64, u32>,
    duplicates: FxHashMap<u64, Vec<u32>>,
    /// `Some` in stack mode (no prefix caching): the free blocks, next to reuse last.
    free_stack: Option<Vec<u32>>,
}

impl BlockPool {
    /// `num_blocks` free blocks, queued in id order.
    pub fn new(num_blocks: u32) -> BlockPool {
        let links = (0..num_blocks)
            .map(|i| Link {
                hash: None,
                prev: if i == 0 { NIL } else { i - 1 },
                next: if i + 1 == num_blocks { NIL } else { i + 1 },
            })
            .collect();
        BlockPool {
            num_blocks,
            ref_cnt: vec![0; num_blocks as usize],
            links,
            free_head: if num_blocks == 0 { NIL } else { 0 },
            free_tail: if num_blocks == 0 { NIL } else { num_blocks - 1 },
            num_free: num_blocks,
            cached: FxHashMap::default(),
            duplicates: FxHashMap::default(),
            free_stack: None,
        }
    }

    /// `num_blocks` free blocks for a cache without prefix hashes (reuse order irrelevant).
    pub fn new_unordered(num_blocks: u32) -> BlockPool {
        BlockPool {
            num_blocks,
            ref_cnt: Vec::new(),
            links: Vec::new(),
            free_head: NIL,
            free_tail: NIL,
            num_free: num_blocks,
            cached: FxHashMap::default(),
            duplicates: FxHashMap::default(),
            free_stack: Some((0..num_blocks).rev().collect()),
        }
    }

    /// Blocks in the pool.
    #[inline]
    pub fn num_blocks(&self) -> u32 {
        self.num_blocks
    }

    /// Whether the counts are implicit (stack mode, no block shared yet).
    #[inline]
    fn implicit(&self) -> bool {
        self.free_stack.is_some() && self.ref_cnt.is_empty()
    }

    /// Every block's reference count (explicit ones copied, implicit ones derived: 0 on the
    /// stack, 1 elsewhere).
    pub fn ref_counts(&self) -> Vec<u32> {
        match &self.free_stack {
            Some(stack) if self.ref_cnt.is_empty() => {
                let mut counts = vec![1; self.num_blocks as usize];
                for &b in stack {
                    counts[b as usize] = 0;
                }
                counts
            }
            _ => self.ref_cnt.clone(),
        }
    }

    /// Blocks on the free queue (cached-but-unreferenced ones included).
    #[inline]
    pub fn num_free(&self) -> u32 {
        self.num_free
    }

    /// The cached block holding `hash`, if any.
    pub fn lookup(&self, hash: u64) -> Option<u32> {
        self.cached.get(&hash).copied()
    }

    /// References count of a block.
    #[inline]
    pub fn ref_cnt(&self, block: u32) -> u32 {
        match &self.free_stack {
            // Implicit: a linear search, reached only by tests and cache hits (none here).
            Some(stack) if self.ref_cnt.is_empty() => {
                assert!(block < self.num_blocks, "block {block} out of range");
                u32::from(!stack.contains(&block))
            }
            _ => self.ref_cnt[block as usize],
        }
    }

    /// Takes a reference to a (cached) block, removing it from the free queue if it was free.
    #[inline]
    pub fn touch(&mut self, block: u32) {
        if self.implicit() {
            self.ref_cnt = self.ref_counts();
        }
        if self.ref_cnt[block as usize] == 0 {
            self.unlink(block);
        }
        self.ref_cnt[block as usize] += 1;
    }

    /// Pops the least recently freed block, evicting its cached hash. `None` if none is free.
    #[inline]
    pub fn pop_free(&mut self) -> Option<u32> {
        if let Some(stack) = &mut self.free_stack {
            let block = stack.pop()?;
            self.num_free -= 1;
            if !self.ref_cnt.is_empty() {
                self.ref_cnt[block as usize] = 1;
            }
            return Some(block);
        }
        let block = self.free_head;
        if block == NIL {
            return None;
        }
        self.unlink(block);
        if let Some(hash) = self.links[block as usize].hash.take() {
            self.uncache(hash, block);
        }
        self.ref_cnt[block as usize] = 1;
        Some(block)
    }

    /// Pops `n` free blocks onto `into`, in [`BlockPool::pop_free`]'s order. Panics if fewer
    /// than `n` are free (callers count first).
    #[inline]
    pub fn pop_free_many(&mut self, n: u32, into: &mut Vec<u32>) {
        let BlockPool { free_stack, ref_cnt, num_free, .. } = self;
        if let Some(stack) = free_stack {
            let start = stack.len().checked_sub(n as usize).expect("counted free blocks");
            if ref_cnt.is_empty() {
                into.extend(stack[start..].iter().rev());
            } else {
                for &block in stack[start..].iter().rev() {
                    ref_cnt[block as usize] = 1;
                    into.push(block);
                }
            }
            stack.truncate(start);
            *num_free -= n;
            return;
        }
        for _ in 0..n {
            let block = self.pop_free().expect("counted free blocks");
            into.push(block);
        }
    }

    /// [`BlockPool::release`] of each of `blocks`, last first; the pool's mode is checked once,
    /// not per block.
    #[inline]
    pub fn release_rev(&mut self, blocks: &[u32]) {
        let BlockPool { free_stack, ref_cnt, num_free, num_blocks, .. } = self;
        let Some(stack) = free_stack else {
            for &block in blocks.iter().rev() {
                self.release(block);
            }
            return;
        };
        if ref_cnt.is_empty() {
            // Implicit counts: each block is held once, so each is free again. A block released
            // twice would sit on the stack twice: `check` finds it; a debug build catches a
            // release of more blocks than are held at once.
            debug_assert!(
                u64::from(*num_free) + blocks.len() as u64 <= u64::from(*num_blocks),
                "releasing more blocks than are held"
            );
            stack.extend(blocks.iter().rev());
            *num_free += blocks.len() as u32;
            return;
        }
        for &block in blocks.iter().rev() {
            let count = &mut ref_cnt[block as usize];
            debug_assert!(*count > 0, "releasing a free block");
            *count -= 1;
            if *count == 0 {
                stack.push(block);
                *num_free += 1;
            }
        }
    }

    /// Drops a reference; a block reaching zero joins the free queue's tail.
    #[inline]
    pub fn release(&mut self, block: u32) {
        if self.implicit() {
            debug_assert!(block < self.num_blocks, "block {block} out of range");
            debug_assert!(self.num_free < self.num_blocks, "releasing a free block");
            self.push_tail(block);
            return;
        }
        let count = &mut self.ref_cnt[block as usize];
        debug_assert!(*count > 0, "releasing a free block");
        *count -= 1;
        if *count == 0 {
            self.push_tail(block);
        }
    }

    /// Registers a full block under `hash` (ignored in stack mode).
    pub fn cache(&mut self, block: u32, hash: u64) {
        if self.free_stack.is_some() {
            return;
        }
        let link = &mut self.links[block as usize];
        if link.hash.is_some() {
            return;
        }
        link.hash = Some(hash);
        match self.cached.entry(hash) {
            Entry::Vacant(slot) => {
                slot.insert(block);
            }
            Entry::Occupied(_) => self.duplicates.entry(hash).or_default().push(block),
        }
    }

    fn uncache(&mut self, hash: u64, block: u32) {
        // One lookup in the index; the duplicate lists are consulted only when there are any.
        let indexed = match self.cached.entry(hash) {
            Entry::Occupied(slot) if *slot.get() == block => Some(slot),
            _ => None,
        };
        if let Some(mut slot) = indexed {
            let dups = if self.duplicates.is_empty() { None } else { self.duplicates.get_mut(&hash) };
            match dups {
                Some(dups) if !dups.is_empty() => {
                    let next = dups.remove(0);
                    if dups.is_empty() {
                        self.duplicates.remove(&hash);
                    }
                    slot.insert(next);
                }
                _ => {
                    slot.remove();
                }
            }
        } else if !self.duplicates.is_empty()
            && let Some(dups) = self.duplicates.get_mut(&hash)
        {
            dups.retain(|b| *b != block);
            if dups.is_empty() {
                self.duplicates.remove(&hash);
            }
        }
    }

    fn unlink(&mut self, block: u32) {
        if let Some(stack) = &mut self.free_stack {
            // Only reachable through `touch` of a free block, which needs a cache hit.
            stack.retain(|b| *b != block);
            self.num_free -= 1;
            return;
        }
        let (prev, next) = {
            let b = &self.links[block as usize];
            (b.prev, b.next)
        };
        if prev == NIL {
            self.free_head = next
        } else {
            self.links[prev as usize].next = next
        }
        if next == NIL {
            self.free_tail = prev
        } else {
            self.links[next as usize].prev = prev
        }
        let b = &mut self.links[block as usize];
        b.prev = NIL;
        b.next = NIL;
        self.num_free -= 1;
    }

    fn push_tail(&mut self, block: u32) {
        if let Some(stack) = &mut self.free_stack {
            stack.push(block);
            self.num_free += 1;
            return;
        }
        let tail = self.free_tail;
        {
            let b = &mut self.links[block as usize];
            b.prev = tail;
            b.next = NIL;
        }
        if tail == NIL {
            self.free_head = block
        } else {
            self.links[tail as usize].next = block
        }
        self.free_tail = block;
        self.num_free += 1;
    }

    /// Checks the pool's internal consistency: the free queue holds exactly the unreferenced
    /// blocks, and the index points at blocks carrying their hash.
    pub fn check(&self) -> Result<(), String> {
        let unreferenced = self.ref_cnt.iter().filter(|c| **c == 0).count() as u32;
        if let Some(stack) = &self.free_stack {
            if self.ref_cnt.is_empty() {
                // Implicit counts: the stack holds distinct blocks of the pool.
                let mut seen = vec![false; self.num_blocks as usize];
                for &b in stack {
                    match seen.get_mut(b as usize) {
                        Some(s) if !*s => *s = true,
                        _ => return Err(format!("block {b} is on the free stack twice or out of range")),
                    }
                }
                if stack.len() as u32 != self.num_free {
                    return Err(format!("free count {} but {} stacked", self.num_free, stack.len()));
                }
                return Ok(());
            }
            if stack.iter().any(|b| self.ref_cnt[*b as usize] != 0) {
                return Err("a referenced block is on the free stack".into());
            }
            if stack.len() as u32 != self.num_free || unreferenced != self.num_free {
                return Err(format!(
                    "free count {} but {} stacked and {} unreferenced",
                    self.num_free,
                    stack.len(),
                    unreferenced
                ));
            }
            return Ok(());
        }
        let mut count = 0u32;
        let mut at = self.free_head;
        let mut prev = NIL;
        while at != NIL {
            let b = &self.links[at as usize];
            if self.ref_cnt[at as usize] != 0 {
                return Err(format!(
                    "block {at} is on the free queue with ref_cnt {}",
                    self.ref_cnt[at as usize]
                ));
            }
            if b.prev != prev {
                return Err(format!("free queue back-link broken at block {at}"));
            }
            count += 1;
            if count > self.num_blocks() {
                return Err("free queue has a cycle".into());
            }
            prev = at;
            at = b.next;
        }
        if count != self.num_free || unreferenced != self.num_free {
            return Err(format!(
                "free count {} but {} queued and {} unreferenced",
                self.num_free, count, unreferenced
            ));
        }
        for (hash, block) in &self.cached {
            if self.links[*block as usize].hash != Some(*hash) {
                return Err(format!("hash index points at block {block} which does not hold it"));
            }
        }
        Ok(())
    }
}

/// The hash of block `index` of `request`: the workload's where it carries hashes (`index`
/// within them), else one derived from the request's id. vLLM hashes every full block of every
/// request by content, so a preempted request finds its own freed blocks again while they last;
/// without a trace's hashes, request-unique ones reproduce exactly that self-hit and nothing
/// else (no two requests share them). Derived hashes have the top bit set, apart from the small
/// integers traces use.
fn block_hash(request: &Request, index: usize) -> u64 {
    match &request.block_hashes {
        Some(hashes) => hashes[index],
        None => {
            // SplitMix64's finaliser over (id, index): a bijection, so distinct pairs collide
            // only through the top-bit mark, one chance in 2^63.
            let mut z = (u64::from(request.id.0) << 32 | index as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) | 1 << 63
        }
    }
}

/// KV usage of a replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvUsage {
    /// Blocks referenced by at least one request.
    pub allocated_blocks: u64,
    /// Blocks on the free queue (cached-but-unreferenced included).
    pub free_blocks: u64,
    /// Blocks in total.
    pub total_blocks: u64,
}

/// The usage of several pools together (the ranks of an attention-DP replica).
impl std::iter::Sum for KvUsage {
    fn sum<I: Iterator<Item = KvUsage>>(usages: I) -> KvUsage {
        usages.fold(KvUsage::default(), |sum, pool| KvUsage {
            allocated_blocks: sum.allocated_blocks + pool.allocated_blocks,
            free_blocks: sum.free_blocks + pool.free_blocks,
            total_blocks: sum.total_blocks + pool.total_blocks,
        })
    }
}

impl KvUsage {
    /// Percentage of blocks referenced.
    #[inline]
    pub fn percent(&self) -> f64 {
        if self.total_blocks == 0 {
            0.0
        } else {
            self.allocated_blocks as f64 * 100.0 / self.total_blocks as f64
        }
    }
}

/// The block table of the request in one arena slot.
#[derive(Clone, Debug)]
struct RequestBlocks {
    /// The id of the request whose table this is, or [`NO_OWNER`].
    owner: u32,
    blocks: Vec<u32>,
    /// Leading blocks already registered in the hash index.
    num_cached: u32,
}

/// A slot's table in brief: its owner ([`NO_OWNER`] if none) and its blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    owner: u32,
    blocks: u32,
}

/// A slot without a table.
const NOT_HELD: Held = Held { owner: NO_OWNER, blocks: 0 };

/// The owner of a slot without a table.
const NO_OWNER: u32 = u32::MAX;

impl Default for RequestBlocks {
    fn default() -> RequestBlocks {
        RequestBlocks { owner: NO_OWNER, blocks: Vec::new(), num_cached: 0 }
    }
}

/// A table found in a slot owned by another request: that request was released (its slot
/// reused) while it still held blocks, which leaks them.
#[cold]
#[inline(never)]
fn slot_taken(request: &Request, owner: u32) -> ! {
    panic!(
        "INV-4: request {} took arena slot {} whose previous request {owner} still holds KV blocks",
        request.id.0, request.arena_slot
    )
}

/// Prefix-cache lookup statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrefixCacheStats {
    /// Prompt blocks looked up.
    pub queried_blocks: u64,
    /// Of which found in the cache.
    pub hit_blocks: u64,
}

/// The lookups of several caches together (the ranks of an attention-DP replica).
impl std::iter::Sum for PrefixCacheStats {
    fn sum<I: Iterator<Item = PrefixCacheStats>>(stats: I) -> PrefixCacheStats {
        stats.fold(PrefixCacheStats::default(), |sum, cache| PrefixCacheStats {
            queried_blocks: sum.queried_blocks + cache.queried_blocks,
            hit_blocks: sum.hit_blocks + cache.hit_blocks,
        })
    }
}

/// Per-replica KV manager: block tables of running requests over a [`BlockPool`].
#[derive(Clone, Debug)]
pub struct KvCacheManager {
    pool: BlockPool,
    block_size: u32,
    prefix_caching: bool,
    prealloc_blocks: u32,
    /// Block tables by the requests' arena slots ([`Request::arena_slot`]): one vector index
    /// per allocation instead of a hash lookup by id, for every request of every batch.
    tables: Vec<RequestBlocks>,
    /// Each slot's table's owner and length, beside `tables` (same indices), checked against
    /// them by [`KvCacheManager::check`]. The common case of `allocate_slots` reads the same
    /// figures from the request itself ([`Request::kv_held`]): this array, sparse per replica
    /// (indexed by the run-wide arena slot), was a cache miss per request-iteration.
    held: Vec<Held>,
    /// Block lists of freed tables, emptied, for the next requests (no allocation per request
    /// in steady state).
    spare_lists: Vec<Vec<u32>>,
    stats: PrefixCacheStats,
    /// This manager's id in [`Request::kv_held`].
    id: ManagerId,
}

/// A KV manager's id, unique among the managers alive in a process (so among a run's): a
/// request's [`Request::kv_held`] names the manager it describes. A clone gets a new id, so
/// requests' records never vouch for a copy's tables (the copy takes the full path instead).
#[derive(Debug)]
struct ManagerId(u32);

impl ManagerId {
    fn fresh() -> ManagerId {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(1);
        // 0 is no manager's (a request that holds nothing); after 2^32 − 1 managers the ids
        // wrap, long after those of any one run were dropped.
        loop {
            let id = NEXT.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return ManagerId(id);
            }
        }
    }
}

impl Clone for ManagerId {
    fn clone(&self) -> ManagerId {
        ManagerId::fresh()
    }
}

impl KvCacheManager {
    /// A manager of `num_blocks` blocks of `block_size` tokens.
    pub fn new(
        num_blocks: u32,
        block_size: u32,
        prefix_caching: bool,
        num_preallocate_tokens: u32,
    ) -> KvCacheManager {
        KvCacheManager {
            pool: if prefix_caching {
                BlockPool::new(num_blocks)
            } else {
                BlockPool::new_unordered(num_blocks)
            },
            block_size,
            prefix_caching,
            prealloc_blocks: num_preallocate_tokens.div_ceil(block_size),
            tables: Vec::new(),
            held: Vec::new(),
            spare_lists: Vec::new(),
            stats: PrefixCacheStats::default(),
            id: ManagerId::fresh(),
        }
    }

    /// Tokens per block.
    #[inline]
    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    /// Blocks in the pool.
    pub fn num_blocks(&self) -> u32 {
        self.pool.num_blocks()
    }

    /// Free blocks.
    pub fn num_free(&self) -> u32 {
        self.pool.num_free()
    }

    /// Usage counters.
    #[inline]
    pub fn usage(&self) -> KvUsage {
        let total = u64::from(self.pool.num_blocks());
        let free = u64::from(self.pool.num_free());
        KvUsage { allocated_blocks: total - free, free_blocks: free, total_blocks: total }
    }

    /// Lookup statistics so far.
    pub fn stats(&self) -> PrefixCacheStats {
        self.stats
    }

    /// The table of `request`, if it has one.
    #[inline]
    fn table(&self, request: &Request) -> Option<&RequestBlocks> {
        self.tables.get(request.arena_slot as usize).filter(|t| t.owner == request.id.0)
    }

    /// Blocks `request` holds now.
    pub fn blocks_of(&self, request: &Request) -> usize {
        self.table(request).map_or(0, |t| t.blocks.len())
    }

    /// The longest cached prefix of `request`'s prompt, as blocks and tokens. At least one
    /// prompt token is always left to compute (vLLM caps a hit at P − 1 tokens), so a hit never
    /// covers the whole prompt or runs past it into output blocks (Vidur's §12.6 crash).
    pub fn computed_blocks(&mut self, request: &Request, out: &mut Vec<u32>) -> u32 {
        out.clear();
        if !self.prefix_caching {
            return 0;
        }
        let candidates = self.prompt_blocks(request);
        for index in 0..candidates {
            match self.pool.lookup(block_hash(request, index)) {
                Some(block) => out.push(block),
                None => break,
            }
        }
        self.stats.queried_blocks += candidates as u64;
        self.stats.hit_blocks += out.len() as u64;
        out.len() as u32 * self.block_size
    }

    /// Full prompt blocks a cache hit may cover: at most P − 1 tokens, and only blocks with a
    /// hash (a trace's list may stop short).
    fn prompt_blocks(&self, request: &Request) -> usize {
        let max_blocks = (request.num_prefill_tokens.saturating_sub(1) / self.block_size) as usize;
        request.block_hashes.as_ref().map_or(max_blocks, |h| h.len().min(max_blocks))
    }

    /// The cached-prefix length of `request` in tokens, without counting it as a lookup
    /// (routers probe replicas with this).
    pub fn probe_cached_tokens(&self, request: &Request) -> u32 {
        if !self.prefix_caching {
            return 0;
        }
        let hits = (0..self.prompt_blocks(request))
            .take_while(|index| self.pool.lookup(block_hash(request, *index)).is_some())
            .count();
        hits as u32 * self.block_size
    }

    /// Whether [`KvCacheManager::allocate_slots`] would succeed for `n` more tokens of
    /// `request` after the cached blocks `new_computed`, without allocating anything.
    pub fn can_fit(&self, request: &Request, n: u32, new_computed: &[u32]) -> bool {
        let bs = self.block_size;
        let computed = request.num_processed_tokens + bs * new_computed.len() as u32;
        let required = (computed + n).div_ceil(bs);
        let held = self.table(request).map_or(0, |t| t.blocks.len() as u32);
        let needed = required.saturating_sub(held + new_computed.len() as u32);
        let evictable_hits = new_computed.iter().filter(|b| self.pool.ref_cnt(**b) == 0).count() as u32;
        needed <= self.pool.num_free().saturating_sub(evictable_hits)
    }

    /// Makes room for `n` more tokens of `request` (after `new_computed` cache-hit blocks at
    /// admission). Returns false, changing nothing, if the free blocks do not suffice.
    #[inline]
    pub fn allocate_slots(&mut self, request: &Request, n: u32, new_computed: &[u32]) -> bool {
        // Most calls are a running request's next tokens within the blocks it holds: nothing
        // to take, touch or register (without prefix caching), so nothing to do.
        // The request's own record of its blocks here (`Request::kv_held`, kept equal to its
        // table by `allocate_more` and `free`) answers without reading the table.
        let held = request.kv_held.get();
        if new_computed.is_empty()
            && !self.prefix_caching
            && held >> 32 == u64::from(self.id.0)
            && (held & u64::from(u32::MAX)) * u64::from(self.block_size)
                >= u64::from(request.num_processed_tokens) + u64::from(n)
        {
            debug_assert_eq!(
                self.blocks_of(request) as u64,
                held & u64::from(u32::MAX),
                "Request::kv_held agrees with this manager's table"
            );
            return true;
        }
        self.allocate_more(request, n, new_computed)
    }

    /// [`KvCacheManager::allocate_slots`] beyond its common case.
    fn allocate_more(&mut self, request: &Request, n: u32, new_computed: &[u32]) -> bool {
        // Cache hits exist only with prefix caching; without it the pool's counts are implicit
        // and a hit's count would be a search of the free stack.
        debug_assert!(new_computed.is_empty() || self.prefix_caching, "a cache hit without prefix caching");
        let bs = self.block_size;
        let computed = request.num_processed_tokens + bs * new_computed.len() as u32;
        let required = (computed + n).div_ceil(bs);
        let slot = request.arena_slot as usize;
        if slot >= self.tables.len() {
            self.tables.resize_with(slot + 1, RequestBlocks::default);
            self.held.resize(slot + 1, NOT_HELD);
        }
        let KvCacheManager { pool, tables, held, spare_lists, prealloc_blocks, .. } = self;
        let table = &mut tables[slot];
        let owned = table.owner == request.id.0;
        if !owned && table.owner != NO_OWNER {
            slot_taken(request, table.owner);
        }
        let table_len = if owned { table.blocks.len() as u32 } else { 0 };
        let needed = required.saturating_sub(table_len + new_computed.len() as u32);
        if needed > 0 || !new_computed.is_empty() {
            let evictable_hits = new_computed.iter().filter(|b| pool.ref_cnt(**b) == 0).count() as u32;
            if needed > pool.num_free().saturating_sub(evictable_hits) {
                return false;
            }
        }
        if !owned {
            let mut blocks = spare_lists.pop().unwrap_or_default();
            // Room for the whole request at once (blocks at its end, plus preallocation).
            blocks.reserve((request.total_tokens().div_ceil(bs) + *prealloc_blocks) as usize);
            *table = RequestBlocks { owner: request.id.0, blocks, num_cached: new_computed.len() as u32 };
        }
        for &block in new_computed {
            pool.touch(block);
            table.blocks.push(block);
        }
        if needed > 0 {
            let take = (needed + *prealloc_blocks).min(pool.num_free());
            pool.pop_free_many(take, &mut table.blocks);
        }
        if self.prefix_caching {
            let hashed = request.block_hashes.as_ref().map_or(u32::MAX, |h| h.len() as u32);
            // A speculative decode step's n = k + 1 tokens are the last sampled token and k
            // drafts: only the first is sure to be kept (the request advances by the accepted
            // count, known only at the step's end), so blocks are registered up to it, as
            // vLLM caches num_computed_tokens + num_new_tokens − len(spec_token_ids). A block
            // holding unverified drafts never enters the index; the next step registers it
            // once its positions are computed.
            let kept =
                if request.is_prefill_complete && request.num_speculative_tokens > 0 { n.min(1) } else { n };
            let full = ((computed + kept) / bs).min(hashed);
            for i in table.num_cached..full {
                pool.cache(table.blocks[i as usize], block_hash(request, i as usize));
            }
            table.num_cached = table.num_cached.max(full);
        }
        held[slot] = Held { owner: table.owner, blocks: table.blocks.len() as u32 };
        request.kv_held.set(u64::from(self.id.0) << 32 | table.blocks.len() as u64);
        true
    }

    /// Releases all of `request`'s blocks, tail first, so its prefix blocks are evicted last.
    pub fn free(&mut self, request: &Request) {
        let Some(table) = self.tables.get_mut(request.arena_slot as usize) else { return };
        if table.owner != request.id.0 {
            return;
        }
        table.owner = NO_OWNER;
        self.held[request.arena_slot as usize] = NOT_HELD;
        if request.kv_held.get() >> 32 == u64::from(self.id.0) {
            request.kv_held.set(0);
        }
        let mut blocks = std::mem::take(&mut table.blocks);
        self.pool.release_rev(&blocks);
        blocks.clear();
        self.spare_lists.push(blocks);
    }

    /// Checks INV-4: allocated + free = total, and every table's references are accounted.
    pub fn check(&self) -> Result<(), String> {
        self.pool.check()?;
        let usage = self.usage();
        if usage.allocated_blocks + usage.free_blocks != usage.total_blocks {
            return Err("allocated + free != total".into());
        }
        if self.held.len() != self.tables.len() {
            return Err(format!("{} table summaries for {} tables", self.held.len(), self.tables.len()));
        }
        for (slot, (table, held)) in self.tables.iter().zip(&self.held).enumerate() {
            let expected = if table.owner == NO_OWNER {
                NOT_HELD
            } else {
                Held { owner: table.owner, blocks: table.blocks.len() as u32 }
            };
            if *held != expected {
                return Err(format!("slot {slot}'s table summary {held:?} is not its table's {expected:?}"));
            }
        }
        let mut refs = vec![0u32; self.pool.num_blocks() as usize];
        for table in self.tables.iter().filter(|t| t.owner != NO_OWNER) {
            for &b in &table.blocks {
                refs[b as usize] += 1;
            }
        }
        let counts = self.pool.ref_counts();
        for (block, (expected, count)) in refs.iter().zip(&counts).enumerate() {
            if count != expected {
                return Err(format!("block {block} has ref_cnt {count} but {expected} table entries"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::RequestId;
    use crate::time::SimTime;
    use std::sync::Arc;

    fn request(id: u32, prefill: u32, hashes: &[u64]) -> Request {
        let mut r = Request::new(RequestId(id), SimTime::ZERO, prefill, 8);
        r.block_hashes = Some(Arc::from(hashes));
        r
    }

    #[test]
    fn free_queue_is_lru_with_tail_blocks_evicted_first() {
        let mut pool = BlockPool::new(4);
        let a = pool.pop_free().unwrap();
        let b = pool.pop_free().unwrap();
        assert_eq!((a, b), (0, 1));
        pool.cache(a, 100);
        pool.cache(b, 101);
        // A request frees its blocks tail first: b then a.
        pool.release(b);
        pool.release(a);
        assert_eq!(pool.num_free(), 4);
        // Blocks 2 and 3 were never used and come first; then b (evicting 101), then a.
        assert_eq!(pool.pop_free(), Some(2));
        assert_eq!(pool.pop_free(), Some(3));
        assert_eq!(pool.lookup(101), Some(1));
        assert_eq!(pool.pop_free(), Some(1));
        assert_eq!(pool.lookup(101), None, "evicted lazily on reuse");
        assert_eq!(pool.lookup(100), Some(0), "still hittable");
        pool.check().unwrap();
    }

    #[test]
    fn releasing_blocks_at_once_is_releasing_them_one_by_one_last_first() {
        // Both pool modes; a block held twice (a shared prefix) stays taken after one release.
        for ordered in [true, false] {
            let new = || if ordered { BlockPool::new(6) } else { BlockPool::new_unordered(6) };
            let (mut one_by_one, mut at_once) = (new(), new());
            let mut blocks = Vec::new();
            for pool in [&mut one_by_one, &mut at_once] {
                blocks.clear();
                pool.pop_free_many(4, &mut blocks);
                pool.touch(blocks[1]);
            }
            for &b in blocks.iter().rev() {
                one_by_one.release(b);
            }
            at_once.release_rev(&blocks);
            assert_eq!(at_once.num_free(), 5);
            assert_eq!(one_by_one.num_free(), at_once.num_free());
            let order = |pool: &mut BlockPool| (0..5).map(|_| pool.pop_free()).collect::<Vec<_>>();
            assert_eq!(order(&mut at_once), order(&mut one_by_one), "ordered: {ordered}");
            assert_eq!(at_once.ref_cnt(blocks[1]), 1);
        }
    }

    #[test]
    fn a_speculative_step_registers_no_block_holding_unverified_drafts() {
        let mut kv = KvCacheManager::new(16, 16, true, 0);
        // Prompt 12, first token done (13 processed), k = 3: the step verifies positions
        // 13..17, so block 0 (positions 0..16) is full only if the drafts are kept.
        let mut r = Request::new(RequestId(0), SimTime::ZERO, 12, 40);
        assert!(kv.allocate_slots(&r, 12, &[]));
        r.on_iteration_end(12, SimTime::ZERO);
        assert_eq!(r.num_processed_tokens, 13);
        r.num_speculative_tokens = 3;
        assert!(kv.allocate_slots(&r, r.next_num_tokens(), &[]));
        assert_eq!(kv.pool.lookup(block_hash(&r, 0)), None, "block 0 holds unverified drafts");
        // All drafts rejected: one token emitted, 14 processed. Preempted, then readmitted
        // with a longer prompt (as after more decoding): no hit on KV never computed.
        r.on_iteration_end(1, SimTime::ZERO);
        kv.free(&r);
        let mut longer = r.clone();
        longer.num_prefill_tokens = 20;
        longer.is_prefill_complete = false;
        longer.num_processed_tokens = 0;
        let mut hits = Vec::new();
        assert_eq!(kv.computed_blocks(&longer, &mut hits), 0);
        // Steps whose kept token completes the block register it.
        let mut r = Request::new(RequestId(1), SimTime::ZERO, 14, 40);
        assert!(kv.allocate_slots(&r, 14, &[]));
        r.on_iteration_end(14, SimTime::ZERO);
        r.num_speculative_tokens = 3;
        assert!(kv.allocate_slots(&r, r.next_num_tokens(), &[]));
        assert!(kv.pool.lookup(block_hash(&r, 0)).is_some(), "positions 0..16 computed");
        kv.check().unwrap();
    }

    #[test]
    fn prefix_hits_reuse_blocks_and_keep_one_token_to_compute() {
        let mut kv = KvCacheManager::new(16, 16, true, 0);
        let first = request(0, 48, &[1, 2, 3, 4]);
        assert!(kv.allocate_slots(&first, 48, &[]));
        assert_eq!(kv.blocks_of(&first), 3);
        // Same prompt: blocks 1 and 2 hit; block 3 would cover the whole prompt, so it is
        // recomputed (hit capped at P − 1 tokens).
        let mut second = request(1, 48, &[1, 2, 3, 4]);
        let mut hits = Vec::new();
        let cached = kv.computed_blocks(&second, &mut hits);
        assert_eq!(cached, 32);
        assert!(kv.allocate_slots(&second, 16, &hits));
        second.on_cache_hit(cached);
        assert_eq!(kv.usage().allocated_blocks, 4, "two shared blocks + one each");
        kv.check().unwrap();
        kv.free(&first);
        kv.free(&second);
        assert_eq!(kv.usage().allocated_blocks, 0);
        kv.check().unwrap();
    }

    #[test]
    fn tables_follow_arena_slots_and_a_reused_slot_starts_empty() {
        let mut kv = KvCacheManager::new(8, 16, false, 0);
        let first = request(0, 40, &[]);
        assert!(kv.allocate_slots(&first, 40, &[]));
        assert_eq!(kv.blocks_of(&first), 3);
        // Decode tokens within the held blocks take nothing; the one past them takes a block.
        let mut grown = first.clone();
        grown.num_processed_tokens = 47;
        assert!(kv.allocate_slots(&grown, 1, &[]));
        assert_eq!((kv.blocks_of(&first), kv.num_free()), (3, 5));
        grown.num_processed_tokens = 48;
        assert!(kv.allocate_slots(&grown, 1, &[]));
        assert_eq!((kv.blocks_of(&first), kv.num_free()), (4, 4));
        // The dense summary the common case reads follows the table.
        assert_eq!(kv.held[first.arena_slot as usize], Held { owner: 0, blocks: 4 });
        kv.check().unwrap();
        kv.free(&first);
        assert_eq!(kv.held[first.arena_slot as usize], NOT_HELD);
        kv.check().unwrap();
        // A later request in the same slot: the freed table is not its own.
        let mut later = request(5, 16, &[]);
        later.arena_slot = first.arena_slot;
        assert_eq!((kv.blocks_of(&later), kv.blocks_of(&first)), (0, 0));
        assert!(kv.allocate_slots(&later, 16, &[]));
        assert_eq!((kv.blocks_of(&later), kv.blocks_of(&first)), (1, 0));
        kv.free(&first);
        assert_eq!(kv.blocks_of(&later), 1, "freeing the slot's former owner frees nothing");
        kv.check().unwrap();
    }

    #[test]
    #[should_panic(expected = "still holds KV blocks")]
    fn a_slot_reused_while_its_request_holds_blocks_is_an_error() {
        let mut kv = KvCacheManager::new(8, 16, false, 0);
        assert!(kv.allocate_slots(&request(0, 16, &[]), 16, &[]));
        let mut later = request(5, 16, &[]);
        later.arena_slot = 0;
        kv.allocate_slots(&later, 16, &[]);
    }

    #[test]
    fn a_block_released_twice_with_implicit_counts_is_found_by_check() {
        // Implicit counts cannot refuse a second release at once; the free stack then holds the
        // block twice, which `check` (run after every event under invariant checks) reports.
        let mut pool = BlockPool::new_unordered(4);
        let block = pool.pop_free().expect("a free block");
        pool.release(block);
        assert!(pool.check().is_ok());
        pool.free_stack.as_mut().expect("stack mode").push(block);
        pool.num_free += 1;
        assert!(pool.check().is_err(), "a block on the free stack twice");
    }

    #[test]
    fn implicit_counts_behave_as_explicit_ones() {
        // The stack pool with implicit counts against the same pool keeping a count per block
        // (the former way): the same blocks in the same order, the same counts and free list.
        let mut implicit = BlockPool::new_unordered(40);
        let mut explicit = BlockPool::new_unordered(40);
        explicit.ref_cnt = vec![0; 40];
        let mut tables: Vec<Vec<u32>> = vec![Vec::new(); 6];
        let mut shadow: Vec<Vec<u32>> = vec![Vec::new(); 6];
        let mut seed = 12345u64;
        for step in 0..2000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let t = (seed >> 33) as usize % 6;
            let n = (seed >> 40) as u32 % 5;
            if (seed >> 50).is_multiple_of(3) {
                // Release the table: all at once or one by one, last first.
                if (seed >> 55).is_multiple_of(2) {
                    implicit.release_rev(&tables[t]);
                } else {
                    tables[t].iter().rev().for_each(|b| implicit.release(*b));
                }
                explicit.release_rev(&shadow[t]);
                tables[t].clear();
                shadow[t].clear();
            } else if n <= implicit.num_free() {
                if n == 1 {
                    tables[t].push(implicit.pop_free().unwrap());
                } else {
                    implicit.pop_free_many(n, &mut tables[t]);
                }
                explicit.pop_free_many(n, &mut shadow[t]);
            }
            assert_eq!(tables, shadow, "step {step}");
            assert_eq!(implicit.num_free(), explicit.num_free());
            assert_eq!(implicit.ref_counts(), explicit.ref_counts());
            assert_eq!(implicit.free_stack, explicit.free_stack);
            implicit.check().unwrap();
            explicit.check().unwrap();
        }
        assert!(implicit.ref_cnt.is_empty(), "the counts stayed implicit");
        // A shared block writes the counts out; they are those derived before.
        let before = implicit.ref_counts();
        let held = tables.iter().flatten().copied().next().unwrap();
        implicit.touch(held);
        let mut after = before.clone();
        after[held as usize] += 1;
        assert_eq!(implicit.ref_counts(), after);
        implicit.check().unwrap();
    }

    #[test]
    fn unordered_pool_conserves_blocks() {
        let mut pool = BlockPool::new_unordered(3);
        let a = pool.pop_free().unwrap();
        let b = pool.pop_free().unwrap();
        assert_ne!(a, b);
        pool.release(a);
        assert_eq!(pool.num_free(), 2);
        pool.check().unwrap();
        pool.release(b);
        assert_eq!(pool.num_free(), 3);
        pool.check().unwrap();
    }

    #[test]
    fn allocation_fails_without_side_effects_and_preallocates() {
        let mut kv = KvCacheManager::new(4, 16, false, 32);
        let r = request(0, 40, &[]);
        assert!(kv.allocate_slots(&r, 40, &[]));
        assert_eq!(kv.blocks_of(&r), 4, "3 needed + 1 of the 2 preallocated (capped by free)");
        let other = request(1, 16, &[]);
        assert!(!kv.allocate_slots(&other, 16, &[]));
        assert_eq!(kv.blocks_of(&other), 0);
        kv.check().unwrap();
    }
}
