"""What the demo traffic is made of: people, places, chat lines and the conversation model.

Plain data and small frozen dataclasses; :mod:`pipeline.demo.traffic` decides who says what and when,
:mod:`pipeline.demo.channels` turns it into each platform's payloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Button:
    title: str
    url: str | None = None  # a URL button; otherwise a postback/callback button with ``payload``
    payload: str | None = None


@dataclass(frozen=True)
class Step:
    """One thing in a session: ``start`` (opened from a link), ``in`` (the user writes), ``out``
    (the bot answers, maybe offering ``buttons``) or ``click`` (the user presses ``button``,
    offered by the bot's ``text``). ``live`` clicks happen at send time: some platforms report a
    click without any time of its own, so the demo only makes them in a session still going on."""

    kind: str
    at: datetime
    text: str = ""
    buttons: tuple[Button, ...] = ()
    button: Button | None = None
    live: bool = False


@dataclass(frozen=True)
class Person:
    """A user and everything some platform might tell about them (each sends only its part)."""

    index: int
    channel: str
    native_id: str | int  # the platform's own user id
    first_name: str
    last_name: str
    username: str
    email: str | None  # None: never gave it
    language: str
    country: str
    country_code: str
    region: str
    city: str
    timezone: str
    ip: str
    referrer: str
    source_url: str
    campaign: str  # deep-link / m.me ref

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def user_id(self) -> str:
        return f"{self.channel}:{self.native_id}"


# Share of users per channel when every channel is configured.
CHANNEL_WEIGHTS = {"web": 30, "telegram": 20, "messenger": 20, "livechat": 15, "slack": 15}

FIRST_NAMES = ["Ana", "José", "Zoë", "Łukasz", "Ngozi", "Mei", "Priya", "Ahmed", "Olivia", "Liam", "Sofía",
               "Hiroshi", "Fatima", "Noah", "Chloé", "Mateo", "Aisha", "Jonas", "Yuki", "Emma", "Lucas", "Ines",
               "Omar", "Hannah", "Ravi", "Camila", "Björn", "Amara", "Tomás", "Leila"]
LAST_NAMES = ["Ruiz", "García", "Müller", "Kowalski", "Okafor", "Chen", "Sharma", "Hassan", "Smith", "Brown",
              "Rossi", "Tanaka", "Dubois", "Silva", "Nakamura", "Johansson", "Mensah", "Costa", "Novak", "Haddad"]

# (language, country, country code, region, city, time zone)
PLACES = [
    ("es-ES", "Spain", "ES", "Madrid", "Madrid", "Europe/Madrid"),
    ("en-US", "United States", "US", "California", "San Francisco", "America/Los_Angeles"),
    ("en-US", "United States", "US", "New York", "New York", "America/New_York"),
    ("en-GB", "United Kingdom", "GB", "England", "London", "Europe/London"),
    ("de-DE", "Germany", "DE", "Berlin", "Berlin", "Europe/Berlin"),
    ("fr-FR", "France", "FR", "Île-de-France", "Paris", "Europe/Paris"),
    ("pl-PL", "Poland", "PL", "Dolnoslaskie", "Wroclaw", "Europe/Warsaw"),
    ("pt-BR", "Brazil", "BR", "São Paulo", "São Paulo", "America/Sao_Paulo"),
    ("ja-JP", "Japan", "JP", "Tokyo", "Tokyo", "Asia/Tokyo"),
    ("en-IN", "India", "IN", "Karnataka", "Bengaluru", "Asia/Kolkata"),
    ("en-NG", "Nigeria", "NG", "Lagos", "Lagos", "Africa/Lagos"),
    ("es-MX", "Mexico", "MX", "Ciudad de México", "Mexico City", "America/Mexico_City"),
]
REFERRERS = ["https://www.google.com/", "https://www.facebook.com/", "https://www.instagram.com/",
             "https://t.co/", "https://news.ycombinator.com/", "https://mail.example.com/newsletter", ""]
PAGES = ["https://shop.example/", "https://shop.example/pricing", "https://shop.example/products/sneakers",
         "https://shop.example/cart", "https://shop.example/help/shipping", "https://shop.example/account/orders"]
CAMPAIGNS = ["spring_sale", "ig_story", "newsletter_nov", "qr_store", "ads_blackfriday"]
USER_AGENTS = ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
               "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
               "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
               "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"]

# What users write, by mood. A session draws from one mood and sometimes a question.
GREETINGS = ["hi", "hello!", "hey 👋", "Hola 👋", "good morning", "hiii", "hello there 😊", "yo", "bonjour!",
             "hi, quick question"]
LINES = {
    "happy": ["thanks 😍", "awesome, that worked!", "hahaha love it 😂", "perfect 👍", "you're the best 🙌",
              "great, thank you so much!", "merci beaucoup 🙏", "super fast, nice 🚀", "lol ok that was easy",
              "danke! 😊", "wow, already here 🎉", "that's exactly what I needed"],
    "annoyed": ["so slow!", "this is broken 😡", "still waiting...", "ugh, not again 🙄", "that didn't help at all",
                "why is this so complicated??", "my order never arrived 😤", "the app keeps crashing",
                "I've asked three times already", "terrible experience tbh 👎", "refund please. now.",
                "nobody answers here 😒"],
    "curious": ["how much is shipping to Canada?", "do you have this in size M?", "can I change my order?",
                "where is my package??", "is there a student discount?", "what are your opening hours?",
                "¿tenéis talla M?", "can I pay with PayPal?", "does it come in blue? 💙",
                "how do I reset my password?", "is the sale still on?", "ok", "order #48213", "hmm let me check 🤔"],
}
REPLIES = {
    "greeting": ["Hi! 👋 How can I help you today?", "Hello! What can I do for you?",
                 "Hey there 😊 Ask me anything about your order."],
    "happy": ["Glad I could help! 😊", "You're welcome! Anything else?", "Happy to help 🙌"],
    "annoyed": ["Sorry about that 😔 Let me look into it.",
                "I'm sorry for the wait. A human agent will join shortly.",
                "That's not the experience we want for you. I've escalated it."],
    "curious": ["Good question! Here's what I found:", "Let me check that for you…",
                "Shipping is free over €50 🚚", "Yes, it's available in S, M and L."],
}
PROMPTS = ["Anything else I can help with?", "Would you like to see more?", "Here are some options:",
           "Did that answer your question?"]
URL_BUTTONS = [Button("See plans", url="https://shop.example/plans"),
               Button("Track my order", url="https://shop.example/track"),
               Button("Help center", url="https://help.shop.example/articles/returns"),
               Button("Open the size guide", url="https://shop.example/size-guide")]
POSTBACK_BUTTONS = [Button("Talk to a human", payload="TALK_TO_AGENT"), Button("Yes 👍", payload="YES"),
                    Button("No", payload="NO"), Button("Order status", payload="ORDER_STATUS"),
                    Button("Rate us ⭐", payload="RATE_US")]
