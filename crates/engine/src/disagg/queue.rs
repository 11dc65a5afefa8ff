//! The decode pool's admission queues: prefilled requests waiting for a decode replica to
//! reserve KV room for their transfer.
//!
//! A decode replica has one queue per admission domain its scheduler names when a request
//! reaches it (`ReplicaScheduler::transfer_queue`): one for the whole replica (vLLM's NIXL
//! connector, TensorRT-LLM's generation server, SGLang without attention DP), or one per
//! attention-DP rank where each rank pre-allocates for itself (SGLang's `DecodePreallocQueue`,
//! one per rank's scheduler, each popped first come first served and stopping at the first
//! request that does not fit that rank). A request whose queue head cannot be admitted blocks
//! only its own queue: another rank's requests behind it are still admitted. Across queues the
//! requests are tried in the order they reached the replica.

use std::collections::VecDeque;

use crate::request::RequestId;

/// What the replica's scheduler answered for a request tried for admission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// KV reserved: its transfer may start.
    Admitted,
    /// No room now: it and everything behind it in its queue wait.
    Wait,
    /// It can never fit there (the reason).
    Refused(String),
}

/// One decode replica's queues.
#[derive(Clone, Debug, Default)]
struct ReplicaQueues {
    /// Per queue: (arrival order, request, its KV blocks), oldest first.
    queues: Vec<VecDeque<(u64, RequestId, u64)>>,
    /// Requests queued over all queues.
    len: usize,
    /// The KV blocks they need.
    blocks: u64,
}

/// The admission queues of every decode replica (indexed within the pool).
#[derive(Clone, Debug)]
pub struct DecodeQueues {
    replicas: Vec<ReplicaQueues>,
    /// Requests queued so far (their arrival order).
    seq: u64,
    /// Per queue of the replica being admitted: its head waits (reused buffer).
    blocked: Vec<bool>,
}

impl DecodeQueues {
    /// Empty queues for `num_decode` replicas.
    pub fn new(num_decode: usize) -> DecodeQueues {
        DecodeQueues { replicas: vec![ReplicaQueues::default(); num_decode], seq: 0, blocked: Vec::new() }
    }

    /// Requests waiting for decode replica `d`.
    pub fn len(&self, d: usize) -> usize {
        self.replicas[d].len
    }

    /// Whether nothing waits for decode replica `d`.
    pub fn is_empty(&self, d: usize) -> bool {
        self.replicas[d].len == 0
    }

    /// The KV blocks the requests waiting for decode replica `d` need.
    pub fn blocks(&self, d: usize) -> u64 {
        self.replicas[d].blocks
    }

    /// `id` (needing `blocks` KV blocks) waits at the back of queue `queue` of replica `d`.
    pub fn push(&mut self, d: usize, queue: usize, id: RequestId, blocks: u64) {
        let replica = &mut self.replicas[d];
        if replica.queues.len() <= queue {
            replica.queues.resize_with(queue + 1, VecDeque::new);
        }
        replica.queues[queue].push_back((self.seq, id, blocks));
        self.seq += 1;
        replica.len += 1;
        replica.blocks += blocks;
    }

    /// Tries replica `d`'s waiting requests for admission: each time the oldest at the head of
    /// a queue whose head has not waited in this pass. A request `admit` answers
    /// [`Admission::Wait`] for stays, and its queue is tried no further; the others leave
    /// their queue. Appends to `out`, in the order tried, every request that left and its
    /// answer.
    pub fn admit(
        &mut self,
        d: usize,
        mut admit: impl FnMut(RequestId) -> Admission,
        out: &mut Vec<(RequestId, Admission)>,
    ) {
        let replica = &mut self.replicas[d];
        self.blocked.clear();
        self.blocked.resize(replica.queues.len(), false);
        loop {
            let next = replica
                .queues
                .iter()
                .enumerate()
                .filter(|(q, _)| !self.blocked[*q])
                .filter_map(|(q, queue)| queue.front().map(|&(seq, id, blocks)| (seq, q, id, blocks)))
                .min();
            let Some((_, q, id, blocks)) = next else { break };
            let answer = admit(id);
            if answer == Admission::Wait {
                self.blocked[q] = true;
                continue;
            }
            replica.queues[q].pop_front();
            replica.len -= 1;
            replica.blocks -= blocks;
            out.push((id, answer));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rank `r` of a replica with room for `room[r]` more requests; refuses request 99.
    fn admit_by_room(room: &mut [u32], rank_of: impl Fn(RequestId) -> usize, id: RequestId) -> Admission {
        if id.0 == 99 {
            return Admission::Refused("never fits".into());
        }
        let r = rank_of(id);
        if room[r] == 0 {
            return Admission::Wait;
        }
        room[r] -= 1;
        Admission::Admitted
    }

    #[test]
    fn a_full_rank_holds_back_only_its_own_queue_and_the_rest_go_in_arrival_order() {
        // Replica 0 with two ranks; requests 0..5 reach it in turn on ranks 0, 1, 0, 1, 0,
        // 10 blocks each. Rank 0 has room for one, rank 1 for two: 0 (rank 0), 1 (rank 1), then
        // 2 waits on rank 0 (so 4 behind it is not tried) while 3 (rank 1) is admitted.
        let rank_of = |id: RequestId| (id.0 % 2) as usize;
        let mut queues = DecodeQueues::new(2);
        for i in 0..5 {
            queues.push(0, rank_of(RequestId(i)), RequestId(i), 10);
        }
        assert_eq!((queues.len(0), queues.blocks(0)), (5, 50));
        let mut room = [1, 2];
        let mut tried = Vec::new();
        let mut out = Vec::new();
        queues.admit(
            0,
            |id| {
                tried.push(id.0);
                admit_by_room(&mut room, rank_of, id)
            },
            &mut out,
        );
        assert_eq!(tried, [0, 1, 2, 3]);
        let admitted: Vec<u32> = out.iter().map(|(id, _)| id.0).collect();
        assert_eq!(admitted, [0, 1, 3]);
        assert_eq!((queues.len(0), queues.blocks(0)), (2, 20));
        // One FIFO for the replica (every request in queue 0) stops at request 2: 3 waits.
        let mut one = DecodeQueues::new(1);
        for i in 0..5 {
            one.push(0, 0, RequestId(i), 10);
        }
        let (mut room, mut out) = ([1, 2], Vec::new());
        one.admit(0, |id| admit_by_room(&mut room, rank_of, id), &mut out);
        assert_eq!(out.iter().map(|(id, _)| id.0).collect::<Vec<_>>(), [0, 1]);
        // Room on rank 0 again: 2 then 4 (3 went already).
        let (mut room, mut out) = ([5, 0], Vec::new());
        queues.admit(0, |id| admit_by_room(&mut room, rank_of, id), &mut out);
        assert_eq!(out.iter().map(|(id, _)| id.0).collect::<Vec<_>>(), [2, 4]);
        assert!(queues.is_empty(0));
        assert_eq!(queues.blocks(0), 0);
    }

    #[test]
    fn a_refused_request_leaves_its_queue_and_the_next_one_is_tried() {
        let mut queues = DecodeQueues::new(1);
        queues.push(0, 0, RequestId(99), 7);
        queues.push(0, 0, RequestId(1), 3);
        let (mut room, mut out) = ([1], Vec::new());
        queues.admit(0, |id| admit_by_room(&mut room, |_| 0, id), &mut out);
        assert_eq!(
            out,
            [(RequestId(99), Admission::Refused("never fits".into())), (RequestId(1), Admission::Admitted)]
        );
        assert_eq!((queues.len(0), queues.blocks(0)), (0, 0));
    }
}
