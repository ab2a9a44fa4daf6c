"""The invite tree below a member, for moderators: who invited whom, each member's ratio standing, and each branch's.

A branch is a member and everyone below them. Its totals (members,
uploaded, downloaded, ratio, members on ratio watch, banned members) show
at a glance where the cheaters came from. The tree is read level by level,
one query per level, never one per member; it stops at
INVITE_TREE_MAX_DEPTH levels below the root and INVITE_TREE_MAX_NODES
members, and says when it stopped early (`truncated`): the totals then cover
the members shown.
"""

from dataclasses import dataclass, field
from typing import Any

from accounts.models import User
from accounts.usernames import username_normalize
from core.errors import Forbidden, NotFound

INVITE_TREE_MAX_DEPTH = 10
INVITE_TREE_MAX_NODES = 1000
# What a node shows of a member (the rows are read with only these).
_NODE_FIELDS = (
    "id",
    "username",
    "role",
    "date_joined",
    "uploaded",
    "downloaded",
    "ratio_watch_since",
    "is_banned",
    "is_active",
    "invited_by_id",
)


def ratio_of(uploaded: int, downloaded: int) -> float | None:
    """uploaded / downloaded to 3 places (as User.ratio), None before anything was downloaded."""
    return round(uploaded / downloaded, 3) if downloaded else None


@dataclass
class Branch:
    """The totals of a member and everyone below them in the tree (those shown)."""

    members: int = 0
    uploaded: int = 0
    downloaded: int = 0
    on_ratio_watch: int = 0
    banned: int = 0

    @property
    def ratio(self) -> float | None:
        return ratio_of(self.uploaded, self.downloaded)

    def add(self, other: "Branch") -> None:
        self.members += other.members
        self.uploaded += other.uploaded
        self.downloaded += other.downloaded
        self.on_ratio_watch += other.on_ratio_watch
        self.banned += other.banned


@dataclass
class InviteNode:
    """One member in the tree, the members they invited, and their branch's totals."""

    user: User
    depth: int
    invitees: list["InviteNode"] = field(default_factory=list)
    branch: Branch = field(default_factory=Branch)

    @property
    def on_ratio_watch(self) -> bool:
        return self.user.ratio_watch_since is not None


@dataclass
class InviteTree:
    """The tree below `root`; `truncated` when members below the last ones shown were left out (depth or node limit)."""

    root: InviteNode
    invited_by: User | None
    nodes: int
    truncated: bool
    max_depth: int
    max_nodes: int


def invite_tree_root(*, viewer: Any, ref: Any, by_name: bool = True) -> User:
    """The member `ref` names (an id first, else, `by_name`, a username in any case) for a moderator; 403 for anyone else, 404 if none."""
    if not getattr(viewer, "is_moderator", False):
        raise Forbidden("Only moderators may see the invite tree.")
    text = username_normalize(str(ref or "").strip())
    members = User.objects.select_related("invited_by")
    root = None
    if text.isascii() and text.isdigit() and len(text) < 19:  # an id (a bigint); a member named "42" is found by name otherwise
        root = members.filter(pk=int(text)).first()
    if root is None and by_name and text and "\x00" not in text:
        root = members.filter(username__iexact=text).first()
    if root is None:
        raise NotFound("No such member.")
    return root


def invite_tree(*, viewer: Any, ref: Any, by_name: bool = True) -> InviteTree:
    """The invite tree below the member `ref` names (invite_tree_root), read one level per query (at most INVITE_TREE_MAX_DEPTH + 2).

    Moderators only (Forbidden otherwise); NotFound for no such member.
    """
    root_user = invite_tree_root(viewer=viewer, ref=ref, by_name=by_name)
    root = InviteNode(root_user, 0)
    nodes, seen, level, truncated = 1, {root_user.pk}, [root], False
    for depth in range(1, INVITE_TREE_MAX_DEPTH + 1):
        room = INVITE_TREE_MAX_NODES - nodes
        below = User.objects.only(*_NODE_FIELDS).filter(invited_by_id__in=[n.user.pk for n in level]).order_by("id")
        children = [u for u in below[: room + 1] if u.pk not in seen]  # an operator's edit could make a loop: shown once
        if len(children) > room:
            truncated, children = True, children[:room]
        parents = {n.user.pk: n for n in level}
        level = []
        for child in children:
            node = InviteNode(child, depth)
            parents[child.invited_by_id].invitees.append(node)  # type: ignore[index]
            level.append(node)
            seen.add(child.pk)
        nodes += len(children)
        if truncated or not level:
            break
    else:
        truncated = User.objects.filter(invited_by_id__in=[n.user.pk for n in level]).exists()
    _branch_totals(root)
    return InviteTree(root, root_user.invited_by, nodes, truncated, max_depth=INVITE_TREE_MAX_DEPTH, max_nodes=INVITE_TREE_MAX_NODES)


def _branch_totals(node: InviteNode) -> Branch:
    """Fill in the totals of `node`'s branch, and of every branch below it, from the bottom up."""
    user = node.user
    node.branch = Branch(1, user.uploaded, user.downloaded, int(user.ratio_watch_since is not None), int(user.is_banned))
    for child in node.invitees:
        node.branch.add(_branch_totals(child))
    return node.branch
