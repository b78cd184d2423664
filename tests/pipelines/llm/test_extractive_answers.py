"""The extractive answerer answers: the answering sentence first and nothing unrelated after,
each sentence once across copies of a document, no bibliography, no cut sentences, no
citation markers of the document's own, and "the sources do not say" when they do not."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from pipelines.llm.providers.extractive import (
    CLOSEST,
    NO_MATCH,
    ExtractiveProvider,
    headers_of,
)
from pipelines.llm.types import ChatRequest, Message, SourcePassage

REPORT = (
    "Trading was ahead of plan in every quarter except the first.\n"
    "Total revenue rose to $48.2 million in 2024, up 12.5% from $42.8 million in 2023. Online\n"
    "revenue reached $17.9 million, or 37% of the total. The table below shows revenue by region\n"
    "and quarter, in millions of dollars.\n\n"
    "Operating profit was $8.6 million, compared with $6.5 million in 2023, and the operating\n"
    "margin widened from 15.2% to 17.8%. Net profit after tax was $6.4 million.\n\n"
    "The figures cover Northwind Outfitters Ltd and its two subsidiaries. Northwind Outfitters\n"
    "designs and sells outdoor clothing through 38 stores.")
OCR_COPY = ("_ Total revenue rose to $48.2 million in 2024, up 12.5% from $42.8 million in\n"
            "2023. Online revenue reached $17.9 million, or 37% of the total.")
RECEIPT = ("GREENLEAF MARKET\n214 Harbor Street\nDate: 2024-11-08 Time: 14:32\n"
           "Receipt No: 004817 Till: 3\n\nWhole Milk 2 L 3.49\nCoffee Beans 500 g 11.95\n"
           "SUBTOTAL 15.44\nTAX 0.00% 0.00\nTOTAL 15.44\nVISA **** 4821 15.44")
PAPER = ("Transformers replaced recurrent networks for machine translation [26, 27]. The model "
         "relates positions by self-attention (Vaswani et al., 2017; Bahdanau and Cho, 2015).")
REFERENCES = (
    "References\n[26] A. Vaswani, N. Shazeer, and N. Parmar. Attention is all you need. In\n"
    "Proceedings of NeurIPS, pages 5998–6008, 2017.\n[27] D. Bahdanau, K. Cho, and Y. Bengio. "
    "Neural machine translation by jointly learning to align and translate. In ICLR, 2015.")
REFERENCE_LINES = (
    "[28] K. Cho, B. van Merrienboer. Learning phrase representations using RNN "
    "encoder-decoder for statistical machine translation. In Proceedings of EMNLP, pages "
    "1724–1734, 2014.\n[29] I. Sutskever, O. Vinyals, and Q. V. Le. Sequence to sequence "
    "learning with neural networks. In NeurIPS, 2014.")


def request(question: str, *documents: tuple[str, str]) -> ChatRequest:
    """A request as answer@v1 renders it: each passage under its "[n] file, p. 1" header."""
    passages = tuple(SourcePassage(n, text) for n, (_, text) in enumerate(documents, start=1))
    sources = "\n\n".join(f"[{p.n}] {name}, p. 1\n{p.text}"
                          for p, (name, _) in zip(passages, documents, strict=True))
    return ChatRequest(messages=(Message("system", "Answer only from the sources."),
                                 Message("user", f"Sources:\n{sources}\n\nQuestion: {question}")),
                       model="extractive", passages=passages)


async def reply(req: ChatRequest, provider: ExtractiveProvider | None = None) -> str:
    return (await (provider or ExtractiveProvider()).complete(req)).text


async def test_the_answer_sentence_alone_not_padded_with_unrelated_ones() -> None:
    answer = await reply(request("What was revenue in 2023?", ("report.pdf", REPORT)))
    assert answer == ("Total revenue rose to $48.2 million in 2024, up 12.5% from $42.8 "
                      "million in 2023 [1].")


async def test_one_sentence_from_two_copies_of_a_report() -> None:
    answer = await reply(request("What was revenue in 2023?", ("scan.pdf", OCR_COPY),
                                 ("report.pdf", REPORT)))
    assert answer.count("Total revenue rose") == 1
    assert answer.startswith("Total revenue rose to $48.2 million") and answer.endswith("[1].")


async def test_a_receipt_question_gets_its_line_not_the_whole_receipt() -> None:
    answer = await reply(request("What was the total on the receipt?", ("receipt.png", RECEIPT),
                                 ("report.pdf", REPORT)))
    assert answer == "TOTAL 15.44 [1]."
    coffee = await reply(request("How much did the coffee beans cost?",
                                 ("receipt.png", RECEIPT), ("report.pdf", REPORT)))
    assert coffee == "Coffee Beans 500 g 11.95 [1]."


async def test_bibliography_sections_and_entries_are_never_quoted() -> None:
    alone = await reply(request("neural machine translation", ("refs.pdf", REFERENCES),
                                ("more-refs.pdf", REFERENCE_LINES)))
    assert alone == NO_MATCH  # not "Neural machine translation by jointly learning to ..."
    answer = await reply(request("Which networks did transformers replace for machine "
                                 "translation?", ("refs.pdf", REFERENCES), ("paper.pdf", PAPER),
                                 ("more-refs.pdf", REFERENCE_LINES)))
    assert answer == "Transformers replaced recurrent networks for machine translation [2]."


async def test_the_documents_own_citation_markers_are_stripped() -> None:
    answer = await reply(request("How does the model relate positions?", ("paper.pdf", PAPER)))
    assert answer == "The model relates positions by self-attention [1]."
    assert "[26" not in answer and "Vaswani" not in answer


async def test_sentences_cut_at_a_passage_edge_are_not_quoted() -> None:
    cut = ("revenue rose to $48.2 million in 2024. Stores opened in Leeds. Online revenue "
           "reached $17.9 million, or 37% of the")
    answer = await reply(request("What did revenue rise to?", ("report.pdf", cut)))
    assert "revenue rose to $48.2 million in 2024 [1]" not in answer
    assert "37% of the" not in answer


async def test_an_unanswerable_on_topic_question_says_the_sources_do_not_say() -> None:
    ceo = await reply(request("Who is the CEO of Northwind Outfitters?", ("report.pdf", REPORT)))
    assert ceo.startswith(f"{NO_MATCH} They do not mention “CEO”. {CLOSEST} “")
    assert "Northwind Outfitters" in ceo and "[1]" in ceo  # the closest passage, cited
    year = await reply(request("What was revenue in 2019?", ("report.pdf", REPORT)))
    assert year.startswith(f"{NO_MATCH} They do not mention “2019”.")
    employees = await reply(request("How many employees does Northwind Outfitters have?",
                                    ("report.pdf", REPORT)))
    assert employees.startswith(NO_MATCH) and "38 stores" in employees


async def test_further_sentences_follow_the_best_by_source_number() -> None:
    notes = ("# Offsite\n\n## Decisions\n\n- Move the weekly sync to Tuesday.\n"
             "- Adopt the new expense policy.\n- Pilot the returns kiosk in Leeds.")
    answer = await reply(request("What decisions were taken?", ("notes.md", notes)))
    assert answer == ("Move the weekly sync to Tuesday [1]. Adopt the new expense policy [1]. "
                      "Pilot the returns kiosk in Leeds [1].")


class PointingEmbedder:
    """Vectors that make the question and every text mentioning `word` identical, and
    everything else orthogonal; records each batch and the thread it ran on."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.batches: list[list[str]] = []
        self.threads: list[int] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        self.threads.append(threading.get_ident())
        return [[1.0, 0.0] if i == 0 or self.word in t else [0.0, 1.0]
                for i, t in enumerate(texts)]


async def test_the_embedder_orders_sentences_off_the_event_loop() -> None:
    passages = ("The warranty on the pump lasts two years.", "The warranty on the motor "
                "lasts two years.")
    req = request("How long is the warranty?", ("a.md", passages[0]), ("b.md", passages[1]))
    assert (await reply(req)).startswith("The warranty on the pump")  # lexical tie: rank wins
    embedder = PointingEmbedder("motor")
    answer = await reply(req, ExtractiveProvider(embedder=embedder))
    assert answer == "The warranty on the motor lasts two years [2]."  # the other: far less
    assert embedder.batches == [["How long is the warranty?", *passages]]
    assert embedder.threads != [threading.get_ident()]


async def test_the_embedder_does_not_make_an_unanswerable_question_answerable() -> None:
    embedder = PointingEmbedder("Northwind")
    answer = await reply(request("Who is the CEO of Northwind Outfitters?",
                                 ("report.pdf", REPORT)), ExtractiveProvider(embedder=embedder))
    assert answer.startswith(NO_MATCH)


def test_headers_are_read_from_the_rendered_prompt() -> None:
    req = request("total?", ("receipt.png", RECEIPT), ("report.pdf", REPORT))
    assert {n: h.split() for n, h in headers_of(req).items()} == {1: ["receipt"],
                                                                  2: ["report"]}
    bare = ChatRequest(messages=(Message("user", "Question: total?"),), model="m",
                       passages=(SourcePassage(1, RECEIPT),))
    assert headers_of(bare) == {}
