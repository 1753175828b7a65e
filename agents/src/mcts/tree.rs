//! The search tree: nodes in one arena, children contiguous, statistics on the edge into a node.
//!
//! A node stands for the state reached by its `action` from its parent. Its statistics are those
//! of that edge, seen by the player who chose the action (the parent's player to move): `visits`
//! and `value_sum` (so `q() = value_sum / visits` is what the parent maximises), the `prior` the
//! evaluator gave the action, and the evaluator's own `raw_value` of the node for the player to
//! move there. Children of a node are one contiguous run `first_child..first_child + num_children`
//! allocated when the node is expanded, so a search allocates only when the arena grows past
//! anything it held before. The root's statistics are kept from its own player's view.
//!
//! Tree reuse: [`Tree::reroot`] copies the subtree under one node into a second arena (breadth
//! first, so children stay contiguous) and swaps the two, keeping both buffers for the next move.

/// Index of a node in the arena.
pub type NodeId = u32;

/// Marks the root's missing action and parent.
pub const NONE: u32 = u32::MAX;

/// One node (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    /// The action that led here from the parent (`NONE` at the root).
    pub action: u32,
    pub parent: NodeId,
    pub first_child: NodeId,
    /// `0` until expanded (a terminal node is never expanded).
    pub num_children: u32,
    pub visits: u32,
    /// Sum of backed-up values from the view of the parent's player to move (the root: its own).
    pub value_sum: f32,
    /// The evaluator's prior of `action` at the parent (after root noise).
    pub prior: f32,
    /// The evaluator's value of this node for the player to move here (terminal: the result).
    pub raw_value: f32,
    /// The player to move here.
    pub player: u8,
    /// Whether the state here is terminal, or decided (a win in one for the player to move,
    /// with decisive moves on): `raw_value` is then the result for player 0, and it is never
    /// expanded.
    pub terminal: bool,
    /// Whether the evaluator has seen this node (its prior and raw value are set).
    pub evaluated: bool,
}

impl Node {
    fn new(action: u32, parent: NodeId, prior: f32) -> Node {
        Node {
            action,
            parent,
            first_child: NONE,
            num_children: 0,
            visits: 0,
            value_sum: 0.0,
            prior,
            raw_value: 0.0,
            player: 0,
            terminal: false,
            evaluated: false,
        }
    }

    /// Mean value for the chooser of `action`; 0 when unvisited.
    #[inline]
    pub fn q(&self) -> f32 {
        if self.visits == 0 {
            0.0
        } else {
            self.value_sum / self.visits as f32
        }
    }

    #[inline]
    pub fn is_expanded(&self) -> bool {
        self.num_children > 0
    }

    /// The children's ids.
    #[inline]
    pub fn children(&self) -> std::ops::Range<NodeId> {
        if self.num_children == 0 {
            0..0
        } else {
            self.first_child..self.first_child + self.num_children
        }
    }
}

/// The arena (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Tree {
    nodes: Vec<Node>,
    spare: Vec<Node>,
    queue: Vec<(NodeId, NodeId)>,
}

impl Tree {
    pub fn new() -> Tree {
        let mut t = Tree::default();
        t.clear();
        t
    }

    /// Drops every node but a fresh root (keeps the memory).
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.nodes.push(Node::new(NONE, NONE, 1.0));
    }

    pub const ROOT: NodeId = 0;

    #[inline]
    pub fn root(&self) -> &Node {
        &self.nodes[0]
    }

    #[inline]
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    #[inline]
    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id as usize]
    }

    /// Nodes in the arena.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The children of `id` as a slice.
    #[inline]
    pub fn children(&self, id: NodeId) -> &[Node] {
        let n = &self.nodes[id as usize];
        let r = n.children();
        &self.nodes[r.start as usize..r.end as usize]
    }

    /// Gives `id` one child per `(action, prior)`, in that order.
    pub fn expand(&mut self, id: NodeId, children: impl ExactSizeIterator<Item = (usize, f32)>) {
        let first = self.nodes.len() as NodeId;
        let n = children.len() as u32;
        self.nodes
            .extend(children.map(|(a, p)| Node::new(a as u32, id, p)));
        let node = &mut self.nodes[id as usize];
        node.first_child = first;
        node.num_children = n;
    }

    /// The child of `id` reached by `action`.
    pub fn child_by_action(&self, id: NodeId, action: usize) -> Option<NodeId> {
        self.node(id)
            .children()
            .find(|&c| self.nodes[c as usize].action as usize == action)
    }

    /// Makes `id` the root, keeping its subtree and dropping the rest.
    pub fn reroot(&mut self, id: NodeId) {
        if id == Self::ROOT {
            return;
        }
        let mut out = std::mem::take(&mut self.spare);
        out.clear();
        self.queue.clear();
        // The root keeps its statistics but is seen from its own player's view now.
        let mut root = self.nodes[id as usize];
        root.value_sum = -root.value_sum;
        root.parent = NONE;
        root.action = NONE;
        out.push(root);
        self.queue.push((id, 0));
        let mut head = 0;
        while head < self.queue.len() {
            let (old, new) = self.queue[head];
            head += 1;
            let n = self.nodes[old as usize];
            if n.num_children == 0 {
                continue;
            }
            let first = out.len() as NodeId;
            for c in n.children() {
                let mut child = self.nodes[c as usize];
                child.parent = new;
                self.queue.push((c, out.len() as NodeId));
                out.push(child);
            }
            out[new as usize].first_child = first;
        }
        self.spare = std::mem::replace(&mut self.nodes, out);
    }

    /// The most visited path from `id` (ties to the higher value), as actions.
    pub fn principal_variation(&self, id: NodeId, max_len: usize, out: &mut Vec<usize>) {
        out.clear();
        let mut cur = id;
        while out.len() < max_len {
            let Some(best) = self.node(cur).children().max_by(|&a, &b| {
                let (na, nb) = (self.node(a), self.node(b));
                na.visits.cmp(&nb.visits).then(na.q().total_cmp(&nb.q()))
            }) else {
                break;
            };
            if self.node(best).visits == 0 {
                break;
            }
            out.push(self.node(best).action as usize);
            cur = best;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reroot_keeps_the_subtree_contiguous_and_flips_the_root_view() {
        let mut t = Tree::new();
        t.expand(Tree::ROOT, [(0, 0.5), (1, 0.5)].into_iter());
        let c1 = t.child_by_action(Tree::ROOT, 1).unwrap();
        t.expand(c1, [(2, 0.3), (3, 0.7)].into_iter());
        let g = t.child_by_action(c1, 3).unwrap();
        t.expand(g, [(4, 1.0)].into_iter());
        t.node_mut(c1).visits = 5;
        t.node_mut(c1).value_sum = 2.0;
        t.node_mut(g).visits = 3;
        t.reroot(c1);
        assert_eq!(t.len(), 4);
        assert_eq!(t.root().visits, 5);
        assert_eq!(t.root().value_sum, -2.0);
        let kids: Vec<u32> = t.children(Tree::ROOT).iter().map(|n| n.action).collect();
        assert_eq!(kids, vec![2, 3]);
        let g = t.child_by_action(Tree::ROOT, 3).unwrap();
        assert_eq!(t.node(g).visits, 3);
        assert_eq!(t.node(g).parent, Tree::ROOT);
        assert_eq!(t.children(g)[0].action, 4);
        assert_eq!(t.children(g)[0].parent, g);
        let mut pv = Vec::new();
        t.principal_variation(Tree::ROOT, 10, &mut pv);
        assert_eq!(pv, vec![3]);
    }
}
