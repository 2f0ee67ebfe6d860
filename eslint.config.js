import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "gen/", "data/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "error",
    },
  },
  {
    files: ["scripts/**", "bench/**", "test/**"],
    rules: { "no-console": "off" },
  },
  {
    // Type-aware rules that catch async mistakes: a promise nobody awaits or
    // catches, a promise where a plain value or void callback is expected, an
    // await of something that is not a promise. Each file is checked with the
    // nearest tsconfig.json (console/ has its own).
    files: ["{src,test,bench,scripts,console}/**/*.ts", "vitest.config.ts", "scripts/*.mjs", "eslint.config.js"],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["eslint.config.js", "scripts/*.mjs"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
    },
  },
);
