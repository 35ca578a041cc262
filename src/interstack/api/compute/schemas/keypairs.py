"""Request bodies of key pairs: ``type`` from 2.2, ``user_id`` from 2.10."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

KeypairName = Annotated[str, Field(min_length=1, max_length=255)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewKeypair(_Closed):
    name: KeypairName
    public_key: Annotated[str, Field(max_length=65535)] | None = None


class NewKeypairV22(NewKeypair):
    type: Literal["ssh", "x509"] = "ssh"


class NewKeypairV210(NewKeypairV22):
    user_id: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class KeypairCreate(_Closed):
    keypair: NewKeypair


class KeypairCreateV22(_Closed):
    keypair: NewKeypairV22


class KeypairCreateV210(_Closed):
    keypair: NewKeypairV210
