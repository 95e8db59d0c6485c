// ESLint flat config: typescript-eslint's `recommended` rules (the type-checked set costs over a minute
// of CPU on this tree). Formatting is prettier's job (`npm run format`), so no stylistic rules here.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'build/', 'coverage/', 'data/', '.extension-stage/', '.bench-build/']),
  {
    files: ['{relay,extension,contract,sandbox,bench,test,scripts}/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    rules: {
      // `const { secret: _omitted, ...rest } = x` is how this code drops a field from a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    // Plain Node scripts, e.g. the build helpers under scripts/ (CommonJS: package.json has no "type").
    files: ['scripts/**/*.{js,cjs,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['scripts/**/*.{js,cjs}'],
    languageOptions: { sourceType: 'commonjs' },
  },
);
