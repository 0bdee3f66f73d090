"""Derives a preference set from a chat fine-tuning file (OpenAI's DPO format): each conversation's own assistant
answer is preferred (the support voice), a generic non-answer is not. Deterministic; standard library only.

Usage: python make_preference_set.py CHAT.jsonl PAIRS.jsonl
"""
import json, sys

GENERIC = [
    "Thank you for your message. Please refer to the product documentation for more information.",
    "I'm not able to help with that. Please contact customer service.",
    "That depends on several factors. You may want to check the manufacturer's website.",
    "Please try again later or reach out to our support team.",
    "Thanks for asking! Many customers have similar questions; our FAQ covers most of them.",
    "I recommend consulting the user manual that came with your device.",
]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f, open(dst, "w") as out:
        for i, line in enumerate(l for l in f if l.strip()):
            messages = json.loads(line)["messages"]
            last = max(j for j, m in enumerate(messages) if m["role"] == "assistant")
            pair = {"input": {"messages": messages[:last]},
                    "preferred_output": [{"role": "assistant", "content": messages[last]["content"]}],
                    "non_preferred_output": [{"role": "assistant", "content": GENERIC[i % len(GENERIC)]}]}
            out.write(json.dumps(pair, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
