"""The triage graph: from raw feedback to a filed, rejected or duplicate-linked item."""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.triage import nodes, routes, same_issue
from agents.triage.context import TriageContext
from agents.triage.state import InputState, TriageState


def build_graph(checkpointer: BaseCheckpointSaver[str] | None = None) -> CompiledStateGraph:  # type: ignore[type-arg]
    """Compile the graph; with a checkpointer every step survives a restart."""
    return (
        StateGraph(TriageState, input_schema=InputState, context_schema=TriageContext)
        .add_node("normalise", nodes.normalise)
        .add_node("classify", nodes.classify)
        .add_node("dismiss", nodes.dismiss)
        .add_node("ask_details", nodes.ask_details)
        .add_node("await_details", nodes.await_details)
        .add_node("find_duplicates", nodes.find_duplicates)
        .add_node("ask_same_issue", same_issue.ask_same_issue)
        .add_node("await_same_issue", same_issue.await_same_issue)
        .add_node("link_same_issue", same_issue.link_same_issue)
        .add_node("draft_spec", nodes.draft_spec)
        .add_node("publish_review", nodes.publish_review)
        .add_node("await_decision", nodes.await_decision)
        .add_node("apply_edit", nodes.apply_edit)
        .add_node("file_issue", nodes.file_issue)
        .add_node("mark_duplicate", nodes.mark_duplicate)
        .add_node("close_item", nodes.close_item)
        .add_edge(START, "normalise")
        .add_edge("normalise", "classify")
        .add_conditional_edges("classify", routes.after_classify)
        .add_edge("dismiss", END)
        .add_edge("ask_details", "await_details")
        .add_edge("await_details", "normalise")
        .add_conditional_edges("find_duplicates", same_issue.after_duplicates)
        .add_conditional_edges("ask_same_issue", same_issue.after_asking)
        .add_conditional_edges("await_same_issue", same_issue.after_same_issue)
        .add_edge("link_same_issue", "mark_duplicate")
        .add_edge("draft_spec", "publish_review")
        .add_edge("publish_review", "await_decision")
        .add_conditional_edges("await_decision", routes.after_decision)
        .add_edge("apply_edit", "publish_review")
        .add_conditional_edges("file_issue", routes.after_filing)
        .add_edge("mark_duplicate", END)
        .add_edge("close_item", END)
        .compile(checkpointer=checkpointer, name="triage")
    )
