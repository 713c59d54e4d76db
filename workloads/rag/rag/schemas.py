"""Request and response bodies shared by the HTTP app and the Lambda adapter."""

from pydantic import BaseModel, ConfigDict, Field

from rag.answer import Answer


class AskRequest(BaseModel):
    """POST /ask."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000, pattern=r"\S")


class CitationBody(BaseModel):
    """One cited passage."""

    number: int
    source: str
    chunk: int
    distance: float
    label: str


class AnswerBody(BaseModel):
    """The reply to POST /ask."""

    text: str
    refused: bool
    citations: list[CitationBody]

    @classmethod
    def of(cls, answer: Answer) -> "AnswerBody":
        """The wire form of an `Answer`."""
        return cls(
            text=answer.text,
            refused=answer.refused,
            citations=[
                CitationBody(
                    number=c.number, source=c.source, chunk=c.chunk, distance=c.distance, label=c.label
                )
                for c in answer.citations
            ],
        )


class DocumentBody(BaseModel):
    """One document to ingest."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=512, pattern=r"^[^\s#][^#]*$")
    text: str


class IngestRequest(BaseModel):
    """POST /ingest."""

    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentBody] = Field(min_length=1, max_length=1000)


class IngestBody(BaseModel):
    """The reply to POST /ingest."""

    documents: int
    chunks: int
    total_chunks: int
