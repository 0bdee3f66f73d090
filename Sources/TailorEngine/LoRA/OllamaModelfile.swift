// An Ollama Modelfile for base + adapter, or for a fully fine-tuned model. Ollama speaks Go templates, not Jinja, so the chat format is recognised
// from the model's own template (ChatML, Llama 3, Mistral, Gemma, Zephyr) and written with the matching stop tokens;
// wrong templates and stop tokens after export are the most common complaint about fine-tuned models in Ollama.

public enum OllamaModelfile {
    public struct Format: Sendable, Equatable {
        public var name: String
        public var template: String
        public var stops: [String]
    }

    public static func detect(chatTemplate t: String) -> Format? {
        if t.contains("<|im_start|>") {
            return Format(name: "chatml", template: """
                {{- if .System }}<|im_start|>system
                {{ .System }}<|im_end|>
                {{ end }}{{- range .Messages }}<|im_start|>{{ .Role }}
                {{ .Content }}<|im_end|>
                {{ end }}<|im_start|>assistant

                """, stops: ["<|im_end|>", "<|im_start|>"])
        }
        if t.contains("<|start_header_id|>") {
            return Format(name: "llama3", template: """
                {{- if .System }}<|start_header_id|>system<|end_header_id|>

                {{ .System }}<|eot_id|>{{ end }}{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

                {{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>


                """, stops: ["<|eot_id|>", "<|start_header_id|>"])
        }
        if t.contains("<start_of_turn>") {
            return Format(name: "gemma", template: """
                {{- range .Messages }}<start_of_turn>{{ if eq .Role "assistant" }}model{{ else }}{{ .Role }}{{ end }}
                {{ .Content }}<end_of_turn>
                {{ end }}<start_of_turn>model

                """, stops: ["<end_of_turn>"])
        }
        if t.contains("<|user|>") && t.contains("<|assistant|>") {
            return Format(name: "zephyr", template: """
                {{- if .System }}<|system|>
                {{ .System }}</s>
                {{ end }}{{- range .Messages }}<|{{ .Role }}|>
                {{ .Content }}</s>
                {{ end }}<|assistant|>

                """, stops: ["</s>", "<|user|>"])
        }
        if t.contains("[INST]") {
            return Format(name: "mistral", template: """
                {{- range .Messages }}{{ if eq .Role "user" }}[INST] {{ .Content }}[/INST]{{ else if eq .Role "assistant" }}{{ .Content }}</s>{{ end }}{{ end }}
                """, stops: ["[INST]", "</s>"])
        }
        return nil
    }

    /// The Modelfile text, with paths as the user will use them (relative to the Modelfile's directory); without
    /// an adapter, `basePath` is the whole fine-tuned model.
    public static func render(basePath: String, adapterPath: String?, format: Format) -> String {
        var s: String
        if let adapterPath {
            s = "# Written by Tailor: base model, LoRA adapter, and the base model's chat format (\(format.name)).\n"
            s += "FROM \(basePath)\nADAPTER \(adapterPath)\n"
        } else {
            s = "# Written by Tailor: a fully fine-tuned model, and its base model's chat format (\(format.name)).\n"
            s += "FROM \(basePath)\n"
        }
        s += "TEMPLATE \"\"\"\(format.template)\"\"\"\n"
        for stop in format.stops { s += "PARAMETER stop \"\(stop)\"\n" }
        return s
    }
}
