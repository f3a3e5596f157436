/** Types of npm `asl-validator` (it ships none): validates an Amazon States Language definition. */
declare module 'asl-validator' {
  interface AslValidationError {
    readonly message: string;
    readonly path?: string;
    readonly 'Error code'?: string;
  }
  interface AslValidationResult {
    readonly isValid: boolean;
    readonly errors: readonly AslValidationError[];
    errorsText(separator?: string): string;
  }
  function aslValidator(
    definition: unknown,
    options?: { readonly checkPaths?: boolean; readonly checkArn?: boolean },
  ): AslValidationResult;
  export = aslValidator;
}
