"""Our own intent data set for the SFT quality check: 50 banking and retail intents.

Written for this project (no public data set, no public label list). Two independent sources:

- TRAIN: template family A, tidy sentences with bracketed alternatives (``[a|b]`` picks one),
  seeded, 10 examples per intent.
- HELD-OUT: template family B, written separately in another voice (casual, terse, chatty, other
  words for the same need), passed through seeded noise (lower case, dropped punctuation, one
  typo, greetings and sign-offs), plus three hand-written queries per intent; 10 per intent, 500
  in all. No held-out query equals a train query once case and spacing are folded.

Nothing here was tuned against a model's answers on the held-out set. Slot values avoid what the
ingest would redact (names, dates, card numbers, brands), so train and held-out queries differ in
wording only. ``python tools/intent_data.py`` rewrites ``tools/data/intent_*.jsonl``;
``--check`` verifies the files match the generator.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

DATA_DIR = Path(__file__).with_name("data")
TRAIN_FILE = DATA_DIR / "intent_train.jsonl"
HELDOUT_FILE = DATA_DIR / "intent_heldout.jsonl"
TRAIN_SEED = 1401
HELDOUT_SEED = 7719
PER_CLASS = 10

#: intent -> what it means (the README's table).
INTENTS: dict[str, str] = {
    "card_not_arrived": "a new or replacement card has not come in the post",
    "activate_new_card": "how to start using a card that just arrived",
    "report_lost_card": "the card is lost or was stolen",
    "freeze_card": "temporarily block or unblock a card",
    "card_declined": "a card payment was refused",
    "change_pin": "set a different PIN",
    "forgot_pin": "the PIN is forgotten",
    "replace_expiring_card": "a card is about to expire or is worn out",
    "raise_spending_limit": "a higher daily or monthly card limit",
    "check_balance": "how much money is in the account",
    "open_savings_account": "start a savings account",
    "close_account": "close the account for good",
    "update_home_address": "a new postal address for the account",
    "change_phone_number": "a new mobile number on file",
    "request_statement": "a statement or transaction history document",
    "account_locked": "locked out after failed sign-ins",
    "reset_password": "forgotten online banking password",
    "transfer_failed": "a bank transfer was rejected or bounced",
    "transfer_not_received": "a sent or expected transfer has not arrived",
    "cancel_transfer": "stop a transfer that was just made",
    "foreign_transfer_fee": "what sending money abroad costs",
    "currency_rate_query": "the rate used to convert between currencies",
    "add_new_payee": "save a new recipient",
    "setup_standing_order": "a recurring scheduled payment",
    "cancel_direct_debit": "stop a company collecting payments",
    "unrecognised_charge": "a payment on the statement the customer did not make",
    "charged_twice": "the same purchase was taken twice",
    "refund_not_showing": "a promised refund has not reached the account",
    "dispute_purchase": "a merchant did not deliver, the customer wants the money back",
    "atm_kept_card": "a cash machine kept the card",
    "atm_cash_not_dispensed": "the machine took the money off the account but gave no cash",
    "cash_withdrawal_fee": "a charge for taking out cash",
    "apply_for_loan": "borrow money as a personal loan",
    "mortgage_rates": "current rates for a home loan",
    "request_overdraft": "an arranged overdraft",
    "loan_payment_date": "when the next loan repayment is due",
    "mobile_wallet_setup": "add the card to a phone wallet",
    "app_not_working": "the mobile app crashes or will not load",
    "verification_code_missing": "the one-time security code never arrives",
    "order_status": "where an order is",
    "cancel_order": "cancel an order before it ships",
    "return_item": "send something back",
    "wrong_item_received": "the parcel held a different product",
    "damaged_item": "the product arrived broken",
    "change_delivery_address": "ship an order somewhere else",
    "exchange_for_other_size": "swap an item for another size",
    "gift_card_balance": "what is left on a gift card",
    "discount_code_invalid": "a promo code is not accepted at checkout",
    "store_opening_hours": "when a branch or shop is open",
    "speak_to_agent": "talk to a person instead of the bot",
}

# ---------------------------------------------------------------------------------------------
# Family A (TRAIN): tidy, complete sentences.

TRAIN_TEMPLATES: dict[str, list[str]] = {
    "card_not_arrived": [
        "My new [debit|credit|replacement] card [still hasn't arrived|has not come yet].",
        "I ordered a card [two weeks|ten days|a month] ago and it [never came|is not here].",
        "When will my [new|replacement] card be delivered?",
        "Where is the card you [posted|sent] me? It should be here by now.",
        "The card I requested has not turned up in the [post|mail] yet.",
        "How long does it take for a new card to [arrive|be delivered]?",
    ],
    "activate_new_card": [
        "How do I activate the [new|replacement] card I just received?",
        "My card arrived [today|this morning|yesterday]. What do I need to do to activate it?",
        "I can't [activate|switch on] my [new|replacement] card, can you help?",
        "Is there a way to activate my card [in the app|online|by phone]?",
        "What are the steps to get my [new|replacement] card working?",
        "I received my card. [How do I start using it?|Is it ready to use?]",
    ],
    "report_lost_card": [
        "I [lost|have lost|think I lost] my [debit|credit] card.",
        "My card was stolen [yesterday|last night|this afternoon].",
        "Someone took my [wallet|bag] with my bank card in it.",
        "I can't find my card [anywhere|at home], I need to report it.",
        "How do I report a [lost|stolen] card?",
        "I need to cancel my card because it was [lost|stolen].",
    ],
    "freeze_card": [
        "Can I [freeze|temporarily block] my card until I find it?",
        "I'd like to [pause|freeze] my card for a while.",
        "How do I [unfreeze|unblock] my card again?",
        "Please put a temporary block on my [debit|credit] card.",
        "Is it possible to lock my card [in the app|for a few days]?",
        "I want to [stop|block] my card temporarily [without cancelling it|for now].",
    ],
    "card_declined": [
        "My card was declined at the [supermarket|petrol station|restaurant].",
        "Why was my card payment [refused|rejected|declined]?",
        "I tried to pay [online|in a shop] and the card didn't go through.",
        "The card keeps getting declined even though I have [money|enough funds].",
        "A payment with my [debit|credit] card was refused [today|this morning].",
        "Why does my card not work when I try to [pay|buy something]?",
    ],
    "change_pin": [
        "How can I change my [card PIN|PIN]?",
        "I would like to [set|choose] a new PIN for my card.",
        "Can I change my PIN [at a cash machine|in the app|online]?",
        "I want a different PIN [number|code] on my [debit|credit] card.",
        "Where do I go to update the PIN on my card?",
        "Is it possible to [pick|choose] my own PIN?",
    ],
    "forgot_pin": [
        "I [forgot|can't remember] my PIN.",
        "I have forgotten the PIN for my [debit|credit|new] card.",
        "How do I [get|see|retrieve] my PIN if I forgot it?",
        "My PIN is [blocked|locked] after too many wrong attempts.",
        "Can you remind me of my card PIN? I don't remember it.",
        "What can I do if I [no longer know|have forgotten] my PIN?",
    ],
    "replace_expiring_card": [
        "My card [expires|runs out] [next month|soon|at the end of the month].",
        "Will you send me a new card before mine expires?",
        "My card is [worn out|damaged|bent] and I need a replacement.",
        "The chip on my card stopped working, can I get a new one?",
        "When do I get a replacement for my expiring card?",
        "How do I order a new card because mine is [expiring|broken]?",
    ],
    "raise_spending_limit": [
        "Can I [increase|raise] my [daily|monthly] spending limit?",
        "I need a higher [monthly|daily] limit on my card.",
        "How do I change the spending limit on my [debit|credit] card?",
        "My card limit is too low for a purchase I want to make.",
        "Please raise the limit on my card for [this week|a large purchase].",
        "What is the maximum I can spend [per day|per month] and can it be increased?",
    ],
    "check_balance": [
        "What is my [current|account] balance?",
        "How much money do I have in my [current|savings] account?",
        "Can you tell me my balance [please|right now]?",
        "I want to check how much is left in my [account|current account].",
        "Where can I see my account balance [in the app|online]?",
        "How do I [check|find out] my balance?",
    ],
    "open_savings_account": [
        "I would like to open a savings account.",
        "How do I [start|open] a new savings account with you?",
        "What savings accounts [do you offer|can I open]?",
        "Can I open a savings account [online|in the app]?",
        "I want to start saving, can I open a [separate|second] account for that?",
        "Do you have a savings account [with good interest|for children|I can open today]?",
    ],
    "close_account": [
        "I want to close my [bank|current|savings] account.",
        "How do I [close|shut down] my account permanently?",
        "Please close my account and send me the remaining money.",
        "What do I need to do to close my account with you?",
        "I am leaving the bank and would like my account closed.",
        "Can I close my account [online|in the app|by phone]?",
    ],
    "update_home_address": [
        "I [moved|have moved] house and need to update my address.",
        "How do I change the address on my account?",
        "Please update my postal address, I [moved|relocated] [last week|recently].",
        "Where can I [change|edit] my home address [in the app|online]?",
        "My address has changed, how do I let you know?",
    ],
    "change_phone_number": [
        "I [got|have] a new phone number, how do I update it?",
        "How do I change the mobile number on my account?",
        "Please update my phone number [on file|in your records].",
        "My old number no longer works, I need to change it.",
        "Can I [change|update] my contact number [online|in the app]?",
        "I changed my mobile number. How do I [tell you|update my details]?",
    ],
    "request_statement": [
        "Can I get a [bank|monthly|printed] statement?",
        "How do I download my statement for [last month|the last year]?",
        "I need a statement [for my landlord|for a mortgage application|for my records].",
        "Please send me a copy of my account statement.",
        "Where can I find my [monthly|annual] statements?",
    ],
    "account_locked": [
        "My account is [locked|blocked] and I can't log in.",
        "I entered the wrong password too many times and now I'm locked out.",
        "Why has my online banking been [locked|suspended]?",
        "How do I unlock my [account|online banking]?",
        "I am locked out of my account after several failed attempts.",
        "My [online account|login] has been blocked. What should I do?",
    ],
    "reset_password": [
        "I forgot my online banking password.",
        "How do I reset my [password|login password]?",
        "Can you help me change my password? I don't remember it.",
        "I need a new password for the [app|website].",
        "The password reset link is not working, what should I do?",
        "I can't remember the password for my [online banking|account].",
    ],
    "transfer_failed": [
        "My bank transfer [failed|was rejected|bounced back].",
        "Why did my transfer to [a friend|my landlord|another bank] fail?",
        "I tried to send money but the transfer was declined.",
        "The payment I sent was returned to my account, why?",
        "A transfer I made [today|yesterday] shows as failed.",
    ],
    "transfer_not_received": [
        "The money I transferred [has not arrived|still hasn't reached] the other account.",
        "I am waiting for a transfer that [hasn't|still has not] come in.",
        "How long does a transfer take to arrive?",
        "I sent money [two days|a week|three days] ago and it is still pending.",
        "My [salary|friend's payment] has not appeared in my account yet.",
    ],
    "cancel_transfer": [
        "Can I cancel a transfer I just made?",
        "I sent money to the wrong [person|account], can I stop it?",
        "How do I [cancel|reverse] a bank transfer?",
        "Please stop the payment I made [a few minutes ago|this morning].",
        "Is it too late to cancel my transfer?",
        "I made a transfer by mistake and want to [cancel|undo] it.",
    ],
    "foreign_transfer_fee": [
        "How much does it cost to send money abroad?",
        "Is there a fee for [international|foreign|overseas] transfers?",
        "What do you charge for a transfer to [another country|a bank abroad]?",
        "Why was I charged a fee for my [international|foreign] transfer?",
        "Are transfers to other countries free?",
        "What are the fees for sending money [to another country|internationally]?",
    ],
    "currency_rate_query": [
        "What exchange rate do you use?",
        "What is the [current|today's] rate for converting [euros|dollars|pounds]?",
        "How is the currency conversion rate calculated?",
        "Why did I get a bad exchange rate on my [payment|purchase] abroad?",
        "Can I see the exchange rate before I convert money?",
    ],
    "add_new_payee": [
        "How do I add a new payee?",
        "I want to [add|save] a new recipient for payments.",
        "Can I add someone new to send money to [in the app|online]?",
        "Where do I set up a new beneficiary?",
        "Please help me add my [landlord|brother|plumber] as a payee.",
    ],
    "setup_standing_order": [
        "How do I set up a standing order?",
        "I want to pay [my rent|my sister|my savings] every month automatically.",
        "Can I schedule a [regular|recurring|monthly] payment?",
        "I'd like to create a standing order [online|in the app].",
        "How can I make a payment repeat every [week|month]?",
    ],
    "cancel_direct_debit": [
        "How do I cancel a direct debit?",
        "I want to stop a direct debit to [my gym|an old phone company|a magazine].",
        "Please cancel the direct debit on my account.",
        "Can I [stop|remove] a direct debit [in the app|online]?",
        "A company keeps taking money by direct debit and I want it to stop.",
    ],
    "unrecognised_charge": [
        "There is a payment on my account that I don't recognise.",
        "I see a charge I [did not make|never authorised].",
        "What is this [strange|unknown] transaction on my statement?",
        "Someone made a purchase with my card that wasn't me.",
        "I have a card payment [I don't recognise|from a shop I never visited].",
        "There are [payments|transactions] on my account that I did not make.",
    ],
    "charged_twice": [
        "I was charged twice for the same [purchase|payment].",
        "The same transaction appears [two times|twice] on my account.",
        "A shop took the payment [twice|two times] from my card.",
        "Why was my purchase charged more than once?",
        "There is a duplicate payment on my [statement|account].",
        "I paid once but the money was taken [twice|two times].",
    ],
    "refund_not_showing": [
        "My refund [still hasn't arrived|has not shown up].",
        "The shop said they refunded me but I don't see the money.",
        "How long does a refund take to appear in my account?",
        "I was promised a refund [a week|two weeks|ten days] ago and it is not here.",
        "Where is the refund for my returned [order|purchase]?",
    ],
    "dispute_purchase": [
        "I paid for something that was never delivered and want my money back.",
        "How do I dispute a card [payment|transaction] with a merchant?",
        "The seller won't refund me, can the bank [help|step in]?",
        "I want to raise a [chargeback|dispute] for a purchase.",
        "A company took my money and did not provide the service.",
        "I want to [challenge|dispute] a payment because the goods never came.",
    ],
    "atm_kept_card": [
        "The cash machine [kept|swallowed|retained] my card.",
        "An ATM did not give my card back.",
        "My card got stuck in the ATM [this morning|today|last night].",
        "What should I do if the machine keeps my card?",
        "The ATM took my card and I can't get it out.",
        "How do I get my card back from a cash machine that [kept|took] it?",
    ],
    "atm_cash_not_dispensed": [
        "The ATM did not give me any cash but took the money from my account.",
        "I withdrew money but the machine [gave me nothing|didn't dispense it].",
        "The cash machine gave me less money than I asked for.",
        "My account was charged for a withdrawal I never received.",
        "I tried to take out cash and got [none|the wrong amount].",
        "The [ATM|cash machine] debited my account but no money came out.",
    ],
    "cash_withdrawal_fee": [
        "Why was I charged for taking out cash?",
        "Is there a fee for [withdrawing cash|using an ATM]?",
        "How much does it cost to withdraw money [abroad|from a cash machine]?",
        "I was charged a fee for a cash withdrawal, why?",
        "Are ATM withdrawals free with my [card|account]?",
        "What is the charge for taking money out at [an ATM|a cash machine]?",
    ],
    "apply_for_loan": [
        "I would like to apply for a personal loan.",
        "How do I apply for a loan [online|in the app]?",
        "Can I borrow money for [a car|home improvements|a wedding]?",
        "What do I need to get a loan from you?",
        "Am I eligible for a [personal|small] loan?",
    ],
    "mortgage_rates": [
        "What are your current mortgage rates?",
        "What interest rate do you offer on a [mortgage|home loan]?",
        "I am buying a house, what mortgage rates can I get?",
        "Do you have [fixed|variable] rate mortgages?",
        "How much interest would I pay on a mortgage with you?",
        "What is the [best|lowest] rate you have for a [mortgage|home loan]?",
    ],
    "request_overdraft": [
        "Can I get an overdraft on my account?",
        "I would like to apply for an [overdraft|arranged overdraft].",
        "How do I [increase|extend] my overdraft limit?",
        "Is it possible to have an overdraft on my current account?",
        "I need an overdraft to cover [some bills|a few expenses] this month.",
    ],
    "loan_payment_date": [
        "When is my next loan payment due?",
        "What date is my loan repayment taken?",
        "Can I change the date of my [monthly|loan] repayment?",
        "How do I find out when my loan instalment is due?",
        "When will you take the next payment for my loan?",
        "On which day [of the month|each month] do you collect my loan repayment?",
        "Is my loan payment due [this week|next week|this month]?",
    ],
    "mobile_wallet_setup": [
        "How do I add my card to my phone wallet?",
        "Can I use my card with [my phone|my smartwatch] to pay?",
        "I can't add my card to the wallet on my phone.",
        "How do I set up [contactless|mobile] payments on my phone?",
        "Does my card work with mobile wallets?",
        "Can I pay [in shops|contactless] using my phone instead of my card?",
    ],
    "app_not_working": [
        "The banking app [keeps crashing|won't open|is not loading].",
        "I can't log in to the app, it shows an error.",
        "Your app stopped working after the [update|latest update].",
        "The mobile app freezes [every time|whenever] I open it.",
        "Is the app down? It won't load my account.",
    ],
    "verification_code_missing": [
        "I didn't receive the verification code.",
        "The security code [never arrives|is not coming] by text.",
        "I am waiting for a one-time code that hasn't come.",
        "Why am I not getting the [confirmation|security|login] code?",
        "The code to confirm my payment never arrived on my phone.",
    ],
    "order_status": [
        "Where is my order?",
        "Can you tell me the status of my [order|recent order]?",
        "My order [hasn't arrived|has not been delivered] yet.",
        "How can I track my [order|parcel]?",
        "When will my order be delivered?",
        "Has my order been [shipped|dispatched] yet?",
    ],
    "cancel_order": [
        "I want to cancel my order.",
        "How do I cancel an order I [just placed|made yesterday]?",
        "Can I still cancel my order before it ships?",
        "Please cancel the order I placed [this morning|today].",
        "I ordered the wrong thing and want to cancel.",
        "Is it possible to cancel my [order|purchase] [now|before delivery]?",
    ],
    "return_item": [
        "How do I return an item?",
        "I want to send back [a jacket|some shoes|a lamp] I bought.",
        "What is your returns policy?",
        "Can I return something I bought [online|in store]?",
        "I'd like to return my purchase for a refund.",
    ],
    "wrong_item_received": [
        "I received the wrong item.",
        "You sent me [a different product|the wrong colour|something I didn't order].",
        "The parcel had someone else's order in it.",
        "My order arrived but it is not what I bought.",
        "I ordered [a kettle|a blue shirt|a phone case] and got something else.",
    ],
    "damaged_item": [
        "My item arrived [damaged|broken].",
        "The product was [cracked|smashed|dented] when I opened the box.",
        "What can I do about a [broken|damaged] delivery?",
        "The [vase|screen|chair] I ordered came broken.",
        "My order was damaged in transit.",
    ],
    "change_delivery_address": [
        "Can I change the delivery address for my order?",
        "I need my parcel sent to a different address.",
        "How do I update the [shipping|delivery] address on an order?",
        "Please deliver my order to my [work|new] address instead.",
        "I entered the wrong address for my delivery.",
        "Is it possible to [redirect|change the address of] my [order|parcel]?",
    ],
    "exchange_for_other_size": [
        "Can I exchange [these shoes|this shirt|the dress] for a different size?",
        "The item is too [small|big], can I swap it?",
        "How do I exchange an item for another size?",
        "I need a [larger|smaller] size of what I ordered.",
        "I'd like to swap my order for a different size.",
    ],
    "gift_card_balance": [
        "How do I check my gift card balance?",
        "How much is left on my [gift card|gift voucher]?",
        "Can you tell me the balance of my [gift card|gift voucher]?",
        "Where can I see the remaining value on a gift card?",
        "I want to know how much money is on my gift card.",
        "Is there still [money|credit] on my gift card?",
        "How can I find out the balance of a gift card [online|in store]?",
    ],
    "discount_code_invalid": [
        "My [discount|promo|voucher] code isn't working.",
        "The promo code says it is invalid at checkout.",
        "Why won't my discount code apply to my order?",
        "I have a voucher code but it [gets rejected|does not work].",
        "The coupon code from your email is not accepted.",
    ],
    "store_opening_hours": [
        "What time does the [store|branch|shop] open?",
        "What are your opening hours [on weekends|on Sunday|today]?",
        "When does the [branch|store] close?",
        "Is the [shop|branch] open on [holidays|Saturday]?",
        "What are the opening times of your nearest branch?",
    ],
    "speak_to_agent": [
        "I want to speak to a [real person|human|customer service agent].",
        "Can I talk to someone from customer support?",
        "How do I get through to a human agent?",
        "Please connect me with a [person|representative].",
        "I don't want the bot, I need to speak with an agent.",
        "Is there a [phone number|way] to reach a person [in support|at the bank]?",
    ],
}

# ---------------------------------------------------------------------------------------------
# Family B (HELD-OUT): written separately, another voice. Noise is added on top (see _noisy).

HELDOUT_TEMPLATES: dict[str, list[str]] = {
    "card_not_arrived": [
        "still waiting on my card, been {weeks}",
        "card never showed up in the letterbox",
        "hey, any idea when the plastic arrives? applied {weeks} back",
        "no card delivered yet",
        "you said my card was dispatched but nothing has reached me",
    ],
    "activate_new_card": [
        "got the card in the mail, how do i turn it on",
        "new card here - need to activate",
        "what's the process to get a freshly delivered card up and running",
        "card came but the app says it's inactive",
        "activation for the card that just came?",
    ],
    "report_lost_card": [
        "wallet gone, card was in it",
        "help someone pinched my card",
        "misplaced my bank card somewhere in town",
        "i dropped my card and it's gone",
        "pickpocketed on the train, card gone",
    ],
    "freeze_card": [
        "can i put my card on hold",
        "block the card for now pls, might be under the sofa",
        "temporarily disable card",
        "want to lock my card while i look for it",
        "card on pause until i'm back from holiday?",
    ],
    "card_declined": [
        "card rejected at checkout",
        "payment didn't work at the till, said declined",
        "why does my card keep bouncing in shops",
        "tried buying {thing} and the card got refused",
        "transaction declined but my balance is fine",
    ],
    "change_pin": [
        "want a new pin",
        "swap my pin to something easier",
        "pin change please",
        "can i pick my own pin number",
        "how to modify the pin on the card",
    ],
    "forgot_pin": [
        "pin forgotten",
        "no clue what my pin is anymore",
        "brain blank on my pin number",
        "can't recall pin, what now",
        "what was my pin again, never used the card",
    ],
    "replace_expiring_card": [
        "card expiry is coming up, is a new one on the way",
        "the expiry date on my card is nearly here",
        "chip is scratched, card barely works, need new one",
        "card snapped in half, can i get another",
        "old card about to run out",
    ],
    "raise_spending_limit": [
        "limit too low, want it higher",
        "bump up my card limit please",
        "need to spend more than my limit allows today",
        "raise max daily spend",
        "can the card limit go up for {thing}",
    ],
    "check_balance": [
        "how much have i got",
        "balance?",
        "what's in my account right now",
        "quick check of my funds please",
        "tell me how much cash is in my account",
    ],
    "open_savings_account": [
        "want to put money aside, savings account?",
        "new savings account pls",
        "looking to open an account just for saving",
        "sign me up for a savings account",
        "do you do savers accounts, want one",
    ],
    "close_account": [
        "shut my account",
        "i'm done with this bank, close everything",
        "terminate my account",
        "want to cancel my bank account entirely",
        "close it all down and pay out what's left",
    ],
    "update_home_address": [
        "new address, moved {when}",
        "i live somewhere else now, update my details",
        "change address on file",
        "my post is going to my old flat, need to fix my address",
        "relocated, how to change where i live on my profile",
    ],
    "change_phone_number": [
        "new mobile number, need to update it",
        "changed phones and numbers, update my contact",
        "swap the number on my profile",
        "my number is different now",
        "update my mobile no. please",
    ],
    "request_statement": [
        "need a bank statement",
        "statement for {period} please",
        "how do i print off my statements",
        "want a pdf of my transactions",
        "proof of transactions for {period}, need a statement",
    ],
    "account_locked": [
        "locked out",
        "account blocked after too many tries",
        "can't get in, says account suspended",
        "typed password wrong a few times now it's locked",
        "online banking frozen after failed logins",
    ],
    "reset_password": [
        "forgot my login password",
        "password reset",
        "need to make a new password, old one forgotten",
        "can't remember password for online banking",
        "how do i get a new password for the website",
    ],
    "transfer_failed": [
        "my transfer bounced",
        "payment to {person} got rejected",
        "sent money and it failed",
        "transfer came back unsuccessful",
        "why won't my transfer go through",
    ],
    "transfer_not_received": [
        "money i sent {when} hasn't landed",
        "transfer still not arrived",
        "{person} says they never got my payment",
        "payment in transit for ages",
        "waiting on incoming money, still nothing",
    ],
    "cancel_transfer": [
        "undo the transfer i just sent",
        "stop that payment, wrong account",
        "cancel my last transfer",
        "sent it to the wrong person, can you reverse",
        "can i take back a payment i just made",
    ],
    "foreign_transfer_fee": [
        "fees for sending money overseas?",
        "what's the charge for an international payment",
        "cost of paying someone abroad",
        "sending cash to family overseas, how much do you charge",
        "international transfer fee",
    ],
    "currency_rate_query": [
        "exchange rate today?",
        "what rate do i get for {currency}",
        "conversion rate for {currency}",
        "how much is the exchange when paying abroad",
        "what's the fx rate",
    ],
    "add_new_payee": [
        "add a payee",
        "new person to pay, how do i save them",
        "set up a new recipient",
        "add {person}'s bank details to my account",
        "register a new beneficiary",
    ],
    "setup_standing_order": [
        "recurring payment to {person}",
        "set up a monthly payment",
        "i want money to go out automatically every month",
        "standing order please",
        "create a regular weekly transfer",
    ],
    "cancel_direct_debit": [
        "stop direct debit",
        "cancel the {company} direct debit",
        "get rid of a direct debit",
        "don't want {company} taking money anymore, stop the debit",
        "remove a DD from my account",
    ],
    "unrecognised_charge": [
        "weird payment on my account i didn't make",
        "don't know what this transaction is",
        "there's a charge from somewhere i've never heard of",
        "unknown payment on my card",
        "somebody spent money on my card",
    ],
    "charged_twice": [
        "double charged",
        "paid once but got billed twice",
        "same payment came out two times",
        "duplicate transaction on my card",
        "the {thing} purchase was taken twice",
    ],
    "refund_not_showing": [
        "refund still not in my account",
        "where's my refund",
        "shop says refunded but nothing here",
        "waiting on a refund for {when}",
        "refund missing",
    ],
    "dispute_purchase": [
        "never got what i paid for, want my money back",
        "raise a dispute on a payment",
        "merchant won't give a refund, can you do a chargeback",
        "paid a company that disappeared, need to dispute it",
        "open a claim against a seller",
    ],
    "atm_kept_card": [
        "cash machine ate my card",
        "atm swallowed the card",
        "the machine never gave my card back",
        "card stuck in the cashpoint",
        "atm took my card, what now",
    ],
    "atm_cash_not_dispensed": [
        "atm didn't give me the cash but took the money",
        "no cash came out but i got debited",
        "withdrew {amount} and got nothing",
        "machine short changed me",
        "cashpoint failed to dispense but balance went down",
    ],
    "cash_withdrawal_fee": [
        "fee for taking cash out?",
        "why is there a charge on my atm withdrawal",
        "do you charge for cash machines",
        "cost to withdraw money",
        "charged for getting cash out",
    ],
    "apply_for_loan": [
        "need to borrow money",
        "loan application",
        "how do i get a loan for {thing}",
        "want a personal loan",
        "can i take out a loan",
    ],
    "mortgage_rates": [
        "mortgage rates?",
        "what interest on a home loan",
        "buying a flat, what are your mortgage deals",
        "current rate for a mortgage",
        "fixed mortgage rate please",
    ],
    "request_overdraft": [
        "need an overdraft",
        "can you give me an overdraft",
        "overdraft on my current account?",
        "want to be able to go below zero this month",
        "apply overdraft",
    ],
    "loan_payment_date": [
        "when's my loan repayment",
        "loan payment due date?",
        "what day do you take the loan money",
        "next instalment date for my loan",
        "when do i have to pay the loan back this month",
    ],
    "mobile_wallet_setup": [
        "add card to phone wallet",
        "how to pay with my phone",
        "tap to pay on my mobile, how",
        "card won't go into my phone wallet",
        "use my card on my watch",
    ],
    "app_not_working": [
        "app broken",
        "app crashes on startup",
        "banking app won't load",
        "app keeps freezing since update",
        "your app is down again?",
    ],
    "verification_code_missing": [
        "no sms code",
        "security code never came",
        "waiting for the otp text",
        "didn't get the one time passcode",
        "verification text not arriving",
    ],
    "order_status": [
        "where's my stuff",
        "order status please",
        "track my order",
        "has my order shipped yet",
        "when does my package come",
    ],
    "cancel_order": [
        "cancel order",
        "i don't want my order anymore, cancel it",
        "stop my order before it ships",
        "changed my mind, cancel the purchase",
        "please scrap the order i placed",
    ],
    "return_item": [
        "how to send something back",
        "return a product",
        "want to return {thing}",
        "returns process?",
        "need to return what i bought",
    ],
    "wrong_item_received": [
        "got the wrong thing",
        "this isn't what i ordered",
        "package had a different item inside",
        "you sent the wrong product",
        "ordered {thing} but received something else",
    ],
    "damaged_item": [
        "item came broken",
        "arrived damaged",
        "{thing} is cracked out of the box",
        "the package was crushed and the product is broken",
        "my delivery is damaged",
    ],
    "change_delivery_address": [
        "ship to a different address",
        "change where my order goes",
        "update delivery address",
        "send the parcel to my office instead",
        "wrong shipping address on my order",
    ],
    "exchange_for_other_size": [
        "swap for a bigger size",
        "too small, need to exchange",
        "exchange for a medium",
        "doesn't fit, can i get another size",
        "wrong size, want to swap it",
    ],
    "gift_card_balance": [
        "gift card balance",
        "how much left on voucher card",
        "check value of gift card",
        "remaining balance on my gift card?",
        "what's my gift card worth now",
    ],
    "discount_code_invalid": [
        "promo code not working",
        "discount code rejected",
        "coupon won't apply",
        "voucher code says invalid",
        "code from the newsletter doesn't work",
    ],
    "store_opening_hours": [
        "opening hours?",
        "when do you close today",
        "are you open on sundays",
        "what time does the branch shut",
        "shop hours please",
    ],
    "speak_to_agent": [
        "human please",
        "talk to a real person",
        "get me an agent",
        "can i speak to someone",
        "stop the bot, i want customer service",
    ],
}

HELDOUT_SLOTS: dict[str, list[str]] = {
    "weeks": ["2 weeks", "three weeks", "a fortnight", "ages"],
    "thing": ["groceries", "a laptop", "the trainers", "a sofa", "concert tickets"],
    "when": ["yesterday", "last week", "monday", "a few days ago"],
    "period": ["last quarter", "the last 3 months", "march", "the past year"],
    "person": ["my mum", "my flatmate", "my dad", "a mate"],
    "currency": ["usd", "euro", "yen", "swiss francs"],
    "company": ["gym", "phone company", "old insurer", "streaming"],
    "amount": ["50", "100 quid", "twenty", "200"],
}

#: Three hand-written queries per intent: longer, indirect or chatty, as people write.
HANDWRITTEN: dict[str, list[str]] = {
    "card_not_arrived": [
        "Hiya, I ordered a replacement debit card ages ago and the postman keeps bringing "
        "everything except it. Is it lost?",
        "is there a way to see if my card has actually been posted? its been a while",
        "card delivery taking forever??",
    ],
    "activate_new_card": [
        "ok the envelope with my card finally came, what do i do before i can use it in shops",
        "Do I need to ring someone to switch the new card on or is it automatic?",
        "activatign my card",
    ],
    "report_lost_card": [
        "I think I left my card in a taxi last night, what should I do first?",
        "my purse was nicked at the market and my card was in it",
        "lost card!!! urgent",
    ],
    "freeze_card": [
        "I can't find my card but I'm pretty sure it's at home somewhere, can I just stop it "
        "working for a day or two?",
        "is there a button to temporarily turn off my card",
        "unfreeze card pls found it",
    ],
    "card_declined": [
        "Embarrassing moment at the restaurant, my card got declined twice. What's going on?",
        "why cant i pay online with my card, it says transaction not authorised",
        "card declined",
    ],
    "change_pin": [
        "I'd like my PIN to be something I can actually remember, can I set it myself?",
        "is it possible to update pin from the app or do i need a cash machine",
        "pin change",
    ],
    "forgot_pin": [
        "I haven't used my card in months and now I have no idea what the PIN is",
        "can you send me my pin again i forgot it",
        "forgot pin code",
    ],
    "replace_expiring_card": [
        "My card runs out at the end of this month and I haven't had a new one yet, will it "
        "come automatically?",
        "the magnetic strip is worn and the card doesnt work in machines anymore",
        "expiring card replacement",
    ],
    "raise_spending_limit": [
        "I'm buying a used car this weekend and my card won't let me spend that much in one "
        "day, can it be increased?",
        "how do i up the daily limit on my card",
        "higher card limit",
    ],
    "check_balance": [
        "Could you let me know how much money is currently in my current account?",
        "whats my balance looking like",
        "account balance",
    ],
    "open_savings_account": [
        "I'd like somewhere separate to keep money for a holiday, can I open a savings "
        "account?",
        "do you have any savings accounts i could open online",
        "open savings",
    ],
    "close_account": [
        "I've switched to another bank and want to close my account here, what's the "
        "process?",
        "please close my account i dont use it",
        "account closure",
    ],
    "update_home_address": [
        "We've just moved into a new house, how do I update my address with the bank?",
        "change my address pls i moved",
        "address change",
    ],
    "change_phone_number": [
        "I got a new SIM with a different number, how do I change it on my account so I "
        "still get texts?",
        "need to update my phone no",
        "phone number change",
    ],
    "request_statement": [
        "My landlord wants three months of bank statements, how can I get them?",
        "can i get a paper statement sent to me",
        "statements",
    ],
    "account_locked": [
        "I tried logging in a few times with the wrong password and now it says my account is "
        "locked, help",
        "why is my account blocked i cant log in",
        "unlock account",
    ],
    "reset_password": [
        "I can't remember my online banking password, how do I reset it?",
        "pasword reset please",
        "need new password",
    ],
    "transfer_failed": [
        "I tried to pay my rent by bank transfer and it came back as failed, why?",
        "my transfer didnt go through and the money came back",
        "failed transfer",
    ],
    "transfer_not_received": [
        "My friend sent me money three days ago but it still isn't showing in my account",
        "how long do transfers take to arrive, mine is still not there",
        "transfer not received",
    ],
    "cancel_transfer": [
        "I just sent money to the wrong account by mistake, can you stop it?",
        "can i cancel a payment i made five minutes ago",
        "cancel transfer",
    ],
    "foreign_transfer_fee": [
        "How much will you charge me to send money to my family in another country?",
        "are there fees if i transfer to a bank abroad",
        "overseas transfer cost",
    ],
    "currency_rate_query": [
        "What exchange rate would I get if I pay in euros on holiday?",
        "how do you work out the currency conversion",
        "exchange rates",
    ],
    "add_new_payee": [
        "I need to pay my new builder, how do I add him as a payee?",
        "how to save a new person to send money to",
        "add payee",
    ],
    "setup_standing_order": [
        "I want to send my son some pocket money every Friday automatically, how do I set "
        "that up?",
        "can i make a payment that repeats every month",
        "standing order",
    ],
    "cancel_direct_debit": [
        "I left my gym months ago but they are still collecting money by direct debit, how "
        "do I stop it?",
        "cancel a direct debit on my account",
        "stop dd",
    ],
    "unrecognised_charge": [
        "There's a payment on my statement from a company I've never heard of, it wasn't me",
        "i dont recognise a transaction on my account",
        "unknown charge",
    ],
    "charged_twice": [
        "The restaurant charged my card twice for the same dinner, can you help?",
        "i got charged two times for one order",
        "duplicate payment",
    ],
    "refund_not_showing": [
        "The shop says they refunded me a week ago but I can't see the money in my account",
        "when will my refund show up",
        "refund not received",
    ],
    "dispute_purchase": [
        "I paid for furniture that never arrived and the seller stopped replying, can the "
        "bank get my money back?",
        "how do i dispute a payment to a merchant",
        "chargeback",
    ],
    "atm_kept_card": [
        "The cash machine outside the station kept my card and didn't give it back",
        "atm retained my card what should i do",
        "atm has my card",
    ],
    "atm_cash_not_dispensed": [
        "I tried to withdraw money but no cash came out and my balance went down",
        "the atm gave me less than i asked for",
        "no cash from atm",
    ],
    "cash_withdrawal_fee": [
        "Why have I been charged for taking money out of a cash machine?",
        "is there a charge for atm withdrawals",
        "withdrawal fee",
    ],
    "apply_for_loan": [
        "I'd like to borrow some money to do up my kitchen, can I apply for a loan?",
        "how do i apply for a personal loan",
        "loan",
    ],
    "mortgage_rates": [
        "We're looking to buy our first home, what mortgage rates do you offer at the moment?",
        "whats the interest rate on your mortgages",
        "mortgage rate",
    ],
    "request_overdraft": [
        "Money is tight until payday, is it possible to get an overdraft on my account?",
        "can i have an overdraft",
        "overdraft",
    ],
    "loan_payment_date": [
        "Can you tell me which day of the month my loan repayment comes out?",
        "when is my loan payment due",
        "loan due date",
    ],
    "mobile_wallet_setup": [
        "I want to pay by tapping my phone at the till, how do I add my card to it?",
        "cant add my card to my phone",
        "phone wallet",
    ],
    "app_not_working": [
        "Since the last update the banking app just shows a white screen and closes",
        "app wont open",
        "app crashing",
    ],
    "verification_code_missing": [
        "I'm trying to log in but the code you text me never arrives, what can I do?",
        "not getting the verification code",
        "no code",
    ],
    "order_status": [
        "I placed an order last week and have heard nothing since, has it been sent?",
        "wheres my order",
        "order tracking",
    ],
    "cancel_order": [
        "I placed an order an hour ago but I've changed my mind, can it be cancelled?",
        "please cancel my order",
        "cancel my order",
    ],
    "return_item": [
        "The jumper I bought doesn't suit me, how do I send it back for a refund?",
        "how do returns work",
        "return",
    ],
    "wrong_item_received": [
        "I ordered a black backpack but the box had a pink lunchbox in it",
        "i got sent the wrong item",
        "wrong item",
    ],
    "damaged_item": [
        "The mirror I ordered arrived shattered, the box was completely crushed",
        "my order came damaged",
        "broken item",
    ],
    "change_delivery_address": [
        "I won't be home this week, can you send my parcel to my work address instead?",
        "can i change the address for my delivery",
        "delivery address",
    ],
    "exchange_for_other_size": [
        "The boots are lovely but half a size too small, can I swap them for a bigger pair?",
        "can i exchange for a different size",
        "size exchange",
    ],
    "gift_card_balance": [
        "My aunt gave me a gift card for my birthday, how can I find out how much is on it?",
        "check gift card balance",
        "giftcard balance",
    ],
    "discount_code_invalid": [
        "I'm trying to use the discount code from your email but it keeps saying it's not "
        "valid",
        "my promo code doesnt work",
        "invalid code",
    ],
    "store_opening_hours": [
        "Is your branch in the high street open on Saturday afternoons?",
        "what time do you open tomorrow",
        "opening times",
    ],
    "speak_to_agent": [
        "This chatbot isn't helping, can I please talk to an actual person?",
        "i want to speak to someone",
        "agent",
    ],
}

#: Family A's polite frames, written in full sentences (family B has its own, see _noisy).
OPENERS = ["Hello. ", "Good afternoon. ", "Excuse me. ", "Can you help me? "]
CLOSERS = [" Thank you.", " Thanks in advance.", " Kind regards."]
GREETINGS = ["hi", "hello", "hey there", "hi team", "good morning", "hiya", "quick question"]
SIGN_OFFS = ["thanks", "thx", "cheers", "pls help", "asap please", "ty", "thank you"]
_BRACKET = re.compile(r"\[([^\[\]]+)\]")
_SLOT = re.compile(r"\{(\w+)\}")


def normalize(text: str) -> str:
    """What exact match compares: stripped, case-folded, runs of whitespace made one space."""
    return " ".join(text.split()).casefold()


def make_train(per_class: int = PER_CLASS, seed: int = TRAIN_SEED) -> list[dict[str, str]]:
    """``per_class`` distinct family-A queries per intent: ``{"query", "intent"}``."""
    rng = random.Random(seed)
    records = []
    for intent in INTENTS:
        seen: set[str] = set()
        templates = TRAIN_TEMPLATES[intent]
        for attempt in range(per_class * 50):
            query = _framed(_expand(templates[attempt % len(templates)], rng), rng)
            if normalize(query) not in seen:
                seen.add(normalize(query))
                records.append({"query": query, "intent": intent})
            if len(seen) == per_class:
                break
        if len(seen) < per_class:
            raise ValueError(f"{intent}: only {len(seen)} distinct train queries")
    rng.shuffle(records)
    return records


def make_heldout(
    train: list[dict[str, str]], per_class: int = PER_CLASS, seed: int = HELDOUT_SEED
) -> list[dict[str, str]]:
    """The hand-written queries plus noisy family-B ones, none equal to a train query."""
    rng = random.Random(seed)
    taken = {normalize(r["query"]) for r in train}
    records: list[dict[str, str]] = []
    for intent in INTENTS:
        picked = []
        for query in HANDWRITTEN[intent]:
            if normalize(query) in taken:
                raise ValueError(f"hand-written {query!r} is also a train query")
            taken.add(normalize(query))
            picked.append(query)
        templates = HELDOUT_TEMPLATES[intent]
        for attempt in range(per_class * 50):
            if len(picked) == per_class:
                break
            query = _noisy(_fill(templates[attempt % len(templates)], rng), rng)
            if normalize(query) not in taken:
                taken.add(normalize(query))
                picked.append(query)
        if len(picked) < per_class:
            raise ValueError(f"{intent}: only {len(picked)} distinct held-out queries")
        records.extend({"query": q, "intent": intent} for q in picked)
    rng.shuffle(records)
    return records


def _expand(template: str, rng: random.Random) -> str:
    return _BRACKET.sub(lambda m: rng.choice(m.group(1).split("|")), template)


def _framed(query: str, rng: random.Random) -> str:
    if rng.random() < 0.2:
        query = rng.choice(OPENERS) + query
    if rng.random() < 0.2:
        query += rng.choice(CLOSERS)
    return query


def _fill(template: str, rng: random.Random) -> str:
    return _SLOT.sub(lambda m: rng.choice(HELDOUT_SLOTS[m.group(1)]), template)


def _noisy(query: str, rng: random.Random) -> str:
    """People's spelling: a typo, stray case, greetings, sign-offs, missing punctuation."""
    if rng.random() < 0.35:
        query = _typo(query, rng)
    roll = rng.random()
    if roll < 0.2:
        query = f"{rng.choice(GREETINGS)}, {query}"
    elif roll < 0.35:
        query = f"{rng.choice(GREETINGS)} {query}"
    if rng.random() < 0.25:
        query = f"{query} {rng.choice(SIGN_OFFS)}"
    roll = rng.random()
    if roll < 0.15:
        query = query.upper()
    elif roll < 0.4:
        query = query[:1].upper() + query[1:]
    if rng.random() < 0.2:
        query += rng.choice(["?", "??", "!", "."])
    return query


def _typo(query: str, rng: random.Random) -> str:
    words = query.split(" ")
    long = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha()]
    if not long:
        return query
    i = rng.choice(long)
    word, at = words[i], rng.randrange(1, len(words[i]) - 2)
    kind = rng.choice(["swap", "drop", "double"])
    if kind == "swap":
        word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    elif kind == "drop":
        word = word[:at] + word[at + 1 :]
    else:
        word = word[:at] + word[at] + word[at:]
    words[i] = word
    return " ".join(words)


def _lines(records: list[dict[str, str]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true",
                        help="verify the files under tools/data match the generator")
    args = parser.parse_args(argv)
    assert set(INTENTS) == set(TRAIN_TEMPLATES) == set(HELDOUT_TEMPLATES) == set(HANDWRITTEN)
    train = make_train()
    heldout = make_heldout(train)
    wanted = {TRAIN_FILE: _lines(train), HELDOUT_FILE: _lines(heldout)}
    if args.check:
        stale = [str(p) for p, text in wanted.items()
                 if not p.is_file() or p.read_text("utf-8") != text]
        if stale:
            print(f"out of date: {', '.join(stale)} (run python tools/intent_data.py)")
            return 1
        print(f"up to date: {len(train)} train, {len(heldout)} held-out, {len(INTENTS)} intents")
        return 0
    DATA_DIR.mkdir(exist_ok=True)
    for path, text in wanted.items():
        path.write_text(text, "utf-8")
        print(f"wrote {path} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
